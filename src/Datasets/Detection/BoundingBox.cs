namespace VisionRwkv.Datasets.Detection;

/// <summary>
/// An axis-aligned box in corner form (x1, y1, x2, y2), in continuous pixel coordinates where pixel (x, y) covers
/// [x, x+1) × [y, y+1). That is the convention of COCO's <c>[x, y, w, h]</c> and of torchvision's <c>xyxy</c>, and it is
/// the one under which resizing by s maps a coordinate c to c·s exactly (<see cref="Transforms.Resampler"/> samples
/// pixel centres at (i + 0.5)/s), so boxes move with the pixels.
/// </summary>
public readonly record struct BoundingBox(double X1, double Y1, double X2, double Y2)
{
    public double Width => X2 - X1;

    public double Height => Y2 - Y1;

    /// <summary>Width × height; 0 for an empty or inverted box.</summary>
    public double Area => Width > 0 && Height > 0 ? Width * Height : 0;

    public bool IsEmpty => !(Width > 0 && Height > 0);

    /// <summary>From COCO's <c>[x, y, w, h]</c>.</summary>
    public static BoundingBox FromXywh(double x, double y, double w, double h) => new(x, y, x + w, y + h);

    /// <summary>From YOLO's normalised centre form (cx, cy, w, h in [0, 1] of the image size).</summary>
    public static BoundingBox FromNormalizedCxcywh(double cx, double cy, double w, double h, int imageWidth, int imageHeight) =>
        new((cx - w / 2) * imageWidth, (cy - h / 2) * imageHeight, (cx + w / 2) * imageWidth, (cy + h / 2) * imageHeight);

    /// <summary>COCO's <c>[x, y, w, h]</c>.</summary>
    public (double X, double Y, double W, double H) ToXywh() => (X1, Y1, X2 - X1, Y2 - Y1);

    /// <summary>YOLO's normalised (cx, cy, w, h).</summary>
    public (double Cx, double Cy, double W, double H) ToNormalizedCxcywh(int imageWidth, int imageHeight) =>
        ((X1 + X2) / 2 / imageWidth, (Y1 + Y2) / 2 / imageHeight, (X2 - X1) / imageWidth, (Y2 - Y1) / imageHeight);

    /// <summary>The part inside [0, width] × [0, height] (possibly empty).</summary>
    public BoundingBox Clip(double width, double height) =>
        new(Math.Clamp(X1, 0, width), Math.Clamp(Y1, 0, height), Math.Clamp(X2, 0, width), Math.Clamp(Y2, 0, height));

    /// <summary>Scaled by (sx, sy) then moved by (dx, dy); a negative scale mirrors, and the corners are re-ordered.</summary>
    public BoundingBox Affine(double sx, double sy, double dx, double dy)
    {
        double a = X1 * sx + dx, b = X2 * sx + dx, c = Y1 * sy + dy, d = Y2 * sy + dy;
        return new(Math.Min(a, b), Math.Min(c, d), Math.Max(a, b), Math.Max(c, d));
    }

    /// <summary>Intersection over union (0 when either box is empty).</summary>
    public double IoU(BoundingBox other)
    {
        var w = Math.Min(X2, other.X2) - Math.Max(X1, other.X1);
        var h = Math.Min(Y2, other.Y2) - Math.Max(Y1, other.Y1);
        if (w <= 0 || h <= 0)
            return 0;
        var inter = w * h;
        return inter / (Area + other.Area - inter);
    }
}

/// <summary>One labelled object of a detection sample: box, class index (0-based, contiguous) and the COCO crowd flag.</summary>
public readonly record struct DetectionObject(BoundingBox Box, int Label, bool IsCrowd = false);
