namespace VisionRwkv.Datasets.Imaging.Dicom.Codecs;

/// <summary>
/// The IJG "islow" integer inverse DCT (libjpeg 6b jidctint.c; libjpeg-turbo computes the same values), for 8- and
/// 12-bit samples, with libjpeg's range-limit table (which wraps far out-of-range values rather than clamping them).
/// Written to match that code's arithmetic exactly, so that our output equals GDCM's and TurboJPEG's.
/// </summary>
internal sealed class InverseDct
{
    private const int ConstBits = 13;
    private const long Fix0298631336 = 2446;
    private const long Fix0390180644 = 3196;
    private const long Fix0541196100 = 4433;
    private const long Fix0765366865 = 6270;
    private const long Fix0899976223 = 7373;
    private const long Fix1175875602 = 9633;
    private const long Fix1501321110 = 12299;
    private const long Fix1847759065 = 15137;
    private const long Fix1961570560 = 16069;
    private const long Fix2053119869 = 16819;
    private const long Fix2562915447 = 20995;
    private const long Fix3072711026 = 25172;

    private readonly int pass1Bits;
    private readonly int rangeMask;
    private readonly int rangeBase;
    private readonly int[] rangeTable;
    private readonly int[] workspace = new int[64];

    public InverseDct(int precision)
    {
        var maxSample = (1 << precision) - 1;
        var center = 1 << (precision - 1);
        pass1Bits = precision == 8 ? 2 : 1;
        rangeMask = maxSample * 4 + 3;
        // libjpeg's prepare_range_limit_table, index for index.
        var size = 5 * (maxSample + 1) + center;
        rangeTable = new int[size];
        var b = maxSample + 1; // sample_range_limit[0]
        for (var i = 0; i <= maxSample; i++)
            rangeTable[b + i] = i;
        var t = b + center;
        for (var i = center; i < 2 * (maxSample + 1); i++)
            rangeTable[t + i] = maxSample;
        for (var i = 0; i < 2 * (maxSample + 1) - center; i++)
            rangeTable[t + 2 * (maxSample + 1) + i] = 0;
        for (var i = 0; i < center; i++)
            rangeTable[t + 4 * (maxSample + 1) - center + i] = rangeTable[b + i];
        rangeBase = t;
    }

    private static long Descale(long x, int n) => (x + (1L << (n - 1))) >> n;

    private int Limit(long v) => rangeTable[rangeBase + ((int)v & rangeMask)];

    /// <summary>Dequantises <paramref name="coef"/> (natural order) and writes the 8x8 samples at <paramref name="offset"/>.</summary>
    public void Transform(int[] coef, int[] quant, int[] output, int offset, int stride)
    {
        var ws = workspace;
        var p1 = pass1Bits;
        // Pass 1: columns from the coefficients into the workspace.
        for (var c = 0; c < 8; c++)
        {
            if (coef[8 + c] == 0 && coef[16 + c] == 0 && coef[24 + c] == 0 && coef[32 + c] == 0
                && coef[40 + c] == 0 && coef[48 + c] == 0 && coef[56 + c] == 0)
            {
                var dc = (int)((long)coef[c] * quant[c] << p1);
                for (var r = 0; r < 8; r++)
                    ws[8 * r + c] = dc;
                continue;
            }
            long z2 = (long)coef[16 + c] * quant[16 + c];
            long z3 = (long)coef[48 + c] * quant[48 + c];
            var z1 = (z2 + z3) * Fix0541196100;
            var tmp2 = z1 + z3 * -Fix1847759065;
            var tmp3 = z1 + z2 * Fix0765366865;
            z2 = (long)coef[c] * quant[c];
            z3 = (long)coef[32 + c] * quant[32 + c];
            var tmp0 = (z2 + z3) << ConstBits;
            var tmp1 = (z2 - z3) << ConstBits;
            var tmp10 = tmp0 + tmp3;
            var tmp13 = tmp0 - tmp3;
            var tmp11 = tmp1 + tmp2;
            var tmp12 = tmp1 - tmp2;

            tmp0 = (long)coef[56 + c] * quant[56 + c];
            tmp1 = (long)coef[40 + c] * quant[40 + c];
            tmp2 = (long)coef[24 + c] * quant[24 + c];
            tmp3 = (long)coef[8 + c] * quant[8 + c];
            Odd(ref tmp0, ref tmp1, ref tmp2, ref tmp3);

            var n = ConstBits - p1;
            ws[c] = (int)Descale(tmp10 + tmp3, n);
            ws[56 + c] = (int)Descale(tmp10 - tmp3, n);
            ws[8 + c] = (int)Descale(tmp11 + tmp2, n);
            ws[48 + c] = (int)Descale(tmp11 - tmp2, n);
            ws[16 + c] = (int)Descale(tmp12 + tmp1, n);
            ws[40 + c] = (int)Descale(tmp12 - tmp1, n);
            ws[24 + c] = (int)Descale(tmp13 + tmp0, n);
            ws[32 + c] = (int)Descale(tmp13 - tmp0, n);
        }

        // Pass 2: rows from the workspace into the output samples.
        var shift = ConstBits + p1 + 3;
        for (var r = 0; r < 8; r++)
        {
            var w = 8 * r;
            var o = offset + r * stride;
            if (ws[w + 1] == 0 && ws[w + 2] == 0 && ws[w + 3] == 0 && ws[w + 4] == 0 && ws[w + 5] == 0 && ws[w + 6] == 0 && ws[w + 7] == 0)
            {
                var v = Limit(Descale(ws[w], p1 + 3));
                for (var i = 0; i < 8; i++)
                    output[o + i] = v;
                continue;
            }
            long z2 = ws[w + 2];
            long z3 = ws[w + 6];
            var z1 = (z2 + z3) * Fix0541196100;
            var tmp2 = z1 + z3 * -Fix1847759065;
            var tmp3 = z1 + z2 * Fix0765366865;
            var tmp0 = ((long)ws[w] + ws[w + 4]) << ConstBits;
            var tmp1 = ((long)ws[w] - ws[w + 4]) << ConstBits;
            var tmp10 = tmp0 + tmp3;
            var tmp13 = tmp0 - tmp3;
            var tmp11 = tmp1 + tmp2;
            var tmp12 = tmp1 - tmp2;

            tmp0 = ws[w + 7];
            tmp1 = ws[w + 5];
            tmp2 = ws[w + 3];
            tmp3 = ws[w + 1];
            Odd(ref tmp0, ref tmp1, ref tmp2, ref tmp3);

            output[o] = Limit(Descale(tmp10 + tmp3, shift));
            output[o + 7] = Limit(Descale(tmp10 - tmp3, shift));
            output[o + 1] = Limit(Descale(tmp11 + tmp2, shift));
            output[o + 6] = Limit(Descale(tmp11 - tmp2, shift));
            output[o + 2] = Limit(Descale(tmp12 + tmp1, shift));
            output[o + 5] = Limit(Descale(tmp12 - tmp1, shift));
            output[o + 3] = Limit(Descale(tmp13 + tmp0, shift));
            output[o + 4] = Limit(Descale(tmp13 - tmp0, shift));
        }
    }

    /// <summary>The odd part, shared by both passes: inputs are the 7th, 5th, 3rd and 1st terms.</summary>
    private static void Odd(ref long tmp0, ref long tmp1, ref long tmp2, ref long tmp3)
    {
        var z1 = tmp0 + tmp3;
        var z2 = tmp1 + tmp2;
        var z3 = tmp0 + tmp2;
        var z4 = tmp1 + tmp3;
        var z5 = (z3 + z4) * Fix1175875602;
        tmp0 *= Fix0298631336;
        tmp1 *= Fix2053119869;
        tmp2 *= Fix3072711026;
        tmp3 *= Fix1501321110;
        z1 *= -Fix0899976223;
        z2 *= -Fix2562915447;
        z3 *= -Fix1961570560;
        z4 *= -Fix0390180644;
        z3 += z5;
        z4 += z5;
        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;
    }
}
