using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Detection.Models;

/// <summary>One image's training targets per location.</summary>
/// <param name="Labels">[A] int64: the class of the box a location regresses, <see cref="FcosTargets.Background"/>, or <see cref="FcosTargets.Ignore"/>.</param>
/// <param name="Distances">[A,4] (l, t, r, b) from the location to its box, in input pixels (zero where not positive).</param>
public sealed record LocationTargets(Tensor Labels, Tensor Distances);

/// <summary>
/// FCOS's assignment of boxes to locations (Tian et al. 2019 §3.1-3.2, with centre sampling from FCOS+): a location is
/// a positive for a box when it lies inside the box, within <c>radius·stride</c> of the box centre, and max(l,t,r,b)
/// falls in its level's range; among several such boxes it takes the one of least area. Locations inside a crowd
/// region that are not positive for any box are ignored, neither positive nor negative (COCO crowds are unlabelled
/// groups). Vectorised over [A,M] location-box pairs; tests compare it to a loop written from the paper.
/// </summary>
public static class FcosTargets
{
    public const long Background = -1;

    public const long Ignore = -2;

    /// <param name="points">[A,2] (x, y) centres.</param>
    /// <param name="strides">[A] each location's stride.</param>
    /// <param name="ranges">[A,2] each location's [lo, hi) range of max(l,t,r,b).</param>
    /// <param name="boxes">[M,4] xyxy boxes in input pixels.</param>
    /// <param name="labels">[M] int64 classes.</param>
    /// <param name="crowd">[M] bool, true for crowd regions.</param>
    /// <param name="radius">Centre-sampling radius in strides; 0 or less turns centre sampling off.</param>
    public static LocationTargets Assign(Tensor points, Tensor strides, Tensor ranges, Tensor boxes, Tensor labels, Tensor crowd, double radius)
    {
        using var scope = NewDisposeScope();
        long a = points.shape[0];
        var device = points.device;
        var regular = crowd.logical_not();
        var gtBoxes = boxes.index_select(0, regular.nonzero().flatten());      // [M',4]
        var gtLabels = labels.index_select(0, regular.nonzero().flatten());    // [M']
        var crowdBoxes = boxes.index_select(0, crowd.nonzero().flatten());     // [Mc,4]
        Tensor assigned, distances;
        if (gtBoxes.shape[0] == 0)
        {
            assigned = full(a, Background, dtype: ScalarType.Int64, device: device);
            distances = zeros(a, 4, device: device);
        }
        else
        {
            var px = points[.., 0].unsqueeze(1);                                // [A,1]
            var py = points[.., 1].unsqueeze(1);
            var x0 = gtBoxes[.., 0].unsqueeze(0);                               // [1,M]
            var y0 = gtBoxes[.., 1].unsqueeze(0);
            var x1 = gtBoxes[.., 2].unsqueeze(0);
            var y1 = gtBoxes[.., 3].unsqueeze(0);
            var ltrb = stack([px - x0, py - y0, x1 - px, y1 - py], 2);          // [A,M,4]
            var inside = ltrb.amin(2) > 0;                                      // [A,M]
            if (radius > 0)
            {
                // The sampling region: the box centre ± radius·stride, clipped to the box.
                var r = (strides * radius).unsqueeze(1);                        // [A,1]
                var cx = (x0 + x1) / 2;
                var cy = (y0 + y1) / 2;
                var cx0 = maximum(cx - r, x0);
                var cy0 = maximum(cy - r, y0);
                var cx1 = minimum(cx + r, x1);
                var cy1 = minimum(cy + r, y1);
                var inCentre = stack([px - cx0, py - cy0, cx1 - px, cy1 - py], 2).amin(2) > 0;
                inside = inside.logical_and(inCentre);
            }
            var maxDistance = ltrb.amax(2);                                     // [A,M]
            var inRange = (maxDistance >= ranges[.., 0].unsqueeze(1)).logical_and(maxDistance <= ranges[.., 1].unsqueeze(1));
            var area = ((x1 - x0) * (y1 - y0)).expand(a, -1);                  // [A,M]
            var candidate = inside.logical_and(inRange);
            var masked = where(candidate, area, full_like(area, double.PositiveInfinity));
            var (minArea, which) = masked.min(1);                               // [A], [A]
            var positive = minArea.isfinite();
            assigned = where(positive, gtLabels.index_select(0, which), full_like(which, Background));
            distances = ltrb.gather(1, which.view(a, 1, 1).expand(a, 1, 4)).squeeze(1) * positive.unsqueeze(1); // [A,4]
        }
        if (crowdBoxes.shape[0] > 0)
        {
            var px = points[.., 0].unsqueeze(1);
            var py = points[.., 1].unsqueeze(1);
            var inCrowd = stack([px - crowdBoxes[.., 0].unsqueeze(0), py - crowdBoxes[.., 1].unsqueeze(0),
                crowdBoxes[.., 2].unsqueeze(0) - px, crowdBoxes[.., 3].unsqueeze(0) - py], 2).amin(2) > 0; // [A,Mc]
            var ignore = inCrowd.any(1).logical_and(assigned == Background);
            assigned = where(ignore, full_like(assigned, Ignore), assigned);
        }
        return new LocationTargets(assigned.MoveToOuterDisposeScope(), distances.MoveToOuterDisposeScope());
    }

    /// <summary>FCOS centerness of positive targets: sqrt(min(l,r)/max(l,r) · min(t,b)/max(t,b)). [P,4] → [P].</summary>
    public static Tensor Centerness(Tensor ltrb)
    {
        using var scope = NewDisposeScope();
        var lr = ltrb.index_select(1, tensor(new long[] { 0, 2 }, device: ltrb.device));
        var tb = ltrb.index_select(1, tensor(new long[] { 1, 3 }, device: ltrb.device));
        var c = lr.amin(1) / lr.amax(1).clamp_min(1e-6) * (tb.amin(1) / tb.amax(1).clamp_min(1e-6));
        return c.clamp_min(0).sqrt().MoveToOuterDisposeScope();
    }
}
