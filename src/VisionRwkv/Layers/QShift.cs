using static TorchSharp.torch;

namespace VisionRwkv.Layers;

/// <summary>
/// Q-Shift: each quarter of the channels takes its value from one neighbouring patch, zero at the border.
/// The order follows the official code (the checkpoints depend on it), not the paper's Eq. 9:
/// [0,q) from the left neighbour, [q,2q) from the right, [2q,3q) from above, [3q,4q) from below, the rest unshifted.
/// </summary>
public static class QShift
{
    /// <param name="x">[B,N,C] tokens, row-major over <paramref name="grid"/>.</param>
    /// <param name="grid">Token grid, N = H*W.</param>
    /// <param name="shiftPixel">Shift distance in patches (1 in every official config).</param>
    /// <param name="gamma">Fraction of channels per direction (1/4 in every official config).</param>
    /// <returns>[B,N,C] shifted tokens.</returns>
    public static Tensor Apply(Tensor x, PatchGrid grid, int shiftPixel = 1, double gamma = 0.25)
    {
        if (gamma > 0.25) throw new ArgumentOutOfRangeException(nameof(gamma), "gamma must be at most 1/4");
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[2], h = grid.Height, w = grid.Width, s = shiftPixel;
        long q = (long)(c * gamma);
        // One zero border of s patches around the [B,H,W,C] grid, then each quarter is a window of it: two copies in
        // all (pad, cat) instead of one per quarter.
        var padded = nn.functional.pad(x.view(b, h, w, c), new long[] { 0, 0, s, s, s, s });   // [B,H+2s,W+2s,C]
        var parts = new List<Tensor>(5)
        {
            Window(padded, 0 * q, q, hStart: s, wStart: 0, h, w),          // x[h, w-s]: left neighbour
            Window(padded, 1 * q, q, hStart: s, wStart: 2 * s, h, w),      // x[h, w+s]: right neighbour
            Window(padded, 2 * q, q, hStart: 0, wStart: s, h, w),          // x[h-s, w]: upper neighbour
            Window(padded, 3 * q, q, hStart: 2 * s, wStart: s, h, w),      // x[h+s, w]: lower neighbour
        };
        if (4 * q < c) parts.Add(Window(padded, 4 * q, c - 4 * q, hStart: s, wStart: s, h, w));   // unshifted rest
        var shifted = cat(parts, dim: 3).view(b, h * w, c);                                          // [B,N,C]
        return shifted.MoveToOuterDisposeScope();
    }

    private static Tensor Window(Tensor padded, long channelStart, long channels, long hStart, long wStart, long h, long w) =>
        padded.narrow(3, channelStart, channels).narrow(1, hStart, h).narrow(2, wStart, w);
}
