namespace VisionRwkv.Datasets.Imaging.Dicom.Codecs;

/// <summary>
/// Upsampling of subsampled JPEG components as IJG libjpeg 6b does it (GDCM's decoder): "fancy" triangle filtering for
/// 2:1 horizontal (h2v1) and 2:1 both ways (h2v2) when the component is wider than 2 samples, pixel replication for every
/// other ratio. Edges replicate the nearest real row or column. Shared by our JPEG decoder and the TurboJPEG raw path.
/// </summary>
internal static class JpegUpsampler
{
    /// <summary>
    /// Upsamples one component plane (<paramref name="compWidth"/> x <paramref name="compHeight"/> real samples, row
    /// <paramref name="stride"/>) by (<paramref name="hExpand"/>, <paramref name="vExpand"/>) into sample
    /// <paramref name="index"/> of the interleaved output of <paramref name="width"/> x <paramref name="height"/>.
    /// </summary>
    public static void Upsample(int[] plane, int stride, int compWidth, int compHeight, int hExpand, int vExpand,
        int[] output, int width, int height, int components, int index)
    {
        var row = new int[compWidth * hExpand + 2];
        for (var y = 0; y < height; y++)
        {
            var r = y / vExpand;
            if (hExpand == 2 && vExpand == 1 && compWidth > 2)
                H2V1(plane.AsSpan(r * stride, compWidth), row);
            else if (hExpand == 2 && vExpand == 2 && compWidth > 2)
            {
                // The upper output row of a pair blends with the row above, the lower with the row below.
                var neighbour = y % 2 == 0 ? Math.Max(r - 1, 0) : Math.Min(r + 1, compHeight - 1);
                H2V2(plane.AsSpan(r * stride, compWidth), plane.AsSpan(neighbour * stride, compWidth), row);
            }
            else
            {
                var src = plane.AsSpan(r * stride, compWidth);
                for (var x = 0; x < compWidth * hExpand; x++)
                    row[x] = src[x / hExpand];
            }
            var o = y * width * components + index;
            for (var x = 0; x < width; x++)
                output[o + x * components] = row[x];
        }
    }

    private static void H2V1(ReadOnlySpan<int> input, Span<int> output)
    {
        var n = input.Length;
        output[0] = input[0];
        output[1] = (input[0] * 3 + input[1] + 2) >> 2;
        for (var c = 1; c < n - 1; c++)
        {
            var v = input[c] * 3;
            output[2 * c] = (v + input[c - 1] + 1) >> 2;
            output[2 * c + 1] = (v + input[c + 1] + 2) >> 2;
        }
        var last = n - 1;
        output[2 * last] = (input[last] * 3 + input[last - 1] + 1) >> 2;
        output[2 * last + 1] = input[last];
    }

    private static void H2V2(ReadOnlySpan<int> near, ReadOnlySpan<int> far, Span<int> output)
    {
        var n = near.Length;
        var thisSum = near[0] * 3 + far[0];
        var nextSum = near[1] * 3 + far[1];
        output[0] = (thisSum * 4 + 8) >> 4;
        output[1] = (thisSum * 3 + nextSum + 7) >> 4;
        var lastSum = thisSum;
        thisSum = nextSum;
        for (var c = 1; c < n - 1; c++)
        {
            nextSum = near[c + 1] * 3 + far[c + 1];
            output[2 * c] = (thisSum * 3 + lastSum + 8) >> 4;
            output[2 * c + 1] = (thisSum * 3 + nextSum + 7) >> 4;
            lastSum = thisSum;
            thisSum = nextSum;
        }
        output[2 * (n - 1)] = (thisSum * 3 + lastSum + 8) >> 4;
        output[2 * (n - 1) + 1] = (thisSum * 4 + 7) >> 4;
    }
}
