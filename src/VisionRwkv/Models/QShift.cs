using static TorchSharp.torch;

namespace VisionRwkv.Models;

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
        var img = x.view(b, h, w, c);                                    // [B,H,W,C]: channels stay contiguous
        var parts = new List<Tensor>(5);
        // Pad order for F.pad on [B,H,W,q] is (C_lo, C_hi, W_lo, W_hi, H_lo, H_hi).
        parts.Add(ShiftSlice(img, 0, q, new long[] { 0, 0, s, 0, 0, 0 }, w: (0, w), h: (0, h)));       // x[h, w-s]
        parts.Add(ShiftSlice(img, q, q, new long[] { 0, 0, 0, s, 0, 0 }, w: (s, w), h: (0, h)));       // x[h, w+s]
        parts.Add(ShiftSlice(img, 2 * q, q, new long[] { 0, 0, 0, 0, s, 0 }, w: (0, w), h: (0, h)));   // x[h-s, w]
        parts.Add(ShiftSlice(img, 3 * q, q, new long[] { 0, 0, 0, 0, 0, s }, w: (0, w), h: (s, h)));   // x[h+s, w]
        if (4 * q < c) parts.Add(img.narrow(3, 4 * q, c - 4 * q));
        var shifted = cat(parts, dim: 3).view(b, h * w, c);              // [B,N,C]
        return shifted.MoveToOuterDisposeScope();
    }

    private static Tensor ShiftSlice(Tensor img, long start, long count, long[] pad, (long Start, long Length) w, (long Start, long Length) h)
    {
        var slice = img.narrow(3, start, count);
        var padded = nn.functional.pad(slice, pad);
        return padded.narrow(2, w.Start, w.Length).narrow(1, h.Start, h.Length);
    }
}
