namespace VisionRwkv.Datasets.Imaging.Dicom.Codecs;

/// <summary>
/// Our JPEG decoder for what libjpeg-turbo 2.1 cannot decode in DICOM: lossless JPEG (process 14, all seven predictors,
/// 2 to 16 bits) and 12-bit sequential DCT (process 4). It also decodes 8-bit sequential JPEG, as the slow, plain
/// reference that the TurboJPEG fast path is tested against.
/// <para>
/// Values match the IJG libjpeg 6b that GDCM (and so pydicom) uses for DICOM: the integer "islow" inverse DCT with its
/// range-limit table, and 6b's fancy upsampling for 2:1 horizontal and 2:2 subsampling (replication otherwise). Colour is
/// not converted: like GDCM, the output is the component values (YCbCr stays YCbCr), in component order.
/// </para>
/// <para>Not supported (clear error): progressive, arithmetic-coded and hierarchical JPEG, and DNL-defined heights.</para>
/// </summary>
internal sealed class JpegDecoder
{
    private static readonly int[] ZigZag =
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
        28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
        47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    ];

    private readonly byte[] data;
    private readonly long maxPixels;
    private readonly (int Width, int Height)? expected;
    private readonly HuffmanTable?[] dcTables = new HuffmanTable?[4];
    private readonly HuffmanTable?[] acTables = new HuffmanTable?[4];
    private readonly int[]?[] quantTables = new int[]?[4];
    private int pos;
    private int restartInterval;
    private Frame? frame;

    private JpegDecoder(byte[] data, long maxPixels, (int Width, int Height)? expected)
    {
        this.data = data;
        this.maxPixels = maxPixels;
        this.expected = expected;
    }

    /// <summary>The SOF marker of a JPEG stream (0xC0..0xCF), or -1 when none is found before the first scan.</summary>
    public static int FindFrameMarker(ReadOnlySpan<byte> jpeg)
    {
        var p = 2;
        while (p + 4 <= jpeg.Length)
        {
            if (jpeg[p] != 0xFF)
                return -1;
            var m = jpeg[p + 1];
            if (m == 0xFF)
            {
                p++;
                continue;
            }
            if (m is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
                return m;
            if (m == 0xDA || m == 0xD9)
                return -1;
            p += 2 + (jpeg[p + 2] << 8 | jpeg[p + 3]);
        }
        return -1;
    }

    /// <summary>
    /// Decodes one JPEG stream (SOI to EOI). With <paramref name="expected"/> (the DICOM Columns and Rows) a frame header
    /// of another size is refused before any sample memory is allocated.
    /// </summary>
    public static DecodedFrame Decode(byte[] jpeg, long maxPixels, (int Width, int Height)? expected = null) =>
        new JpegDecoder(jpeg, maxPixels, expected).Run();

    private DecodedFrame Run()
    {
        if (data.Length < 4 || data[0] != 0xFF || data[1] != 0xD8)
            throw new CodecException("the JPEG data does not start with an SOI marker (FF D8)");
        pos = 2;
        while (true)
        {
            var marker = NextMarker();
            switch (marker)
            {
                case 0xD9: // EOI
                case -1:   // end of data without EOI: accepted when every component was decoded
                    return Finish();
                case 0xC0:
                case 0xC1:
                case 0xC3:
                    ReadFrame(marker);
                    break;
                case 0xC4:
                    ReadHuffmanTables();
                    break;
                case 0xDB:
                    ReadQuantTables();
                    break;
                case 0xDD:
                    var seg = Segment();
                    if (seg.Length < 2)
                        throw new CodecException("the JPEG DRI segment is too short");
                    restartInterval = seg[0] << 8 | seg[1];
                    break;
                case 0xDA:
                    ReadScan();
                    break;
                case 0xC2:
                case 0xC6:
                    throw new CodecException("progressive JPEG is not supported");
                case >= 0xC5 and <= 0xCF when marker != 0xC8 && marker != 0xCC:
                    throw new CodecException($"JPEG process with SOF marker FF{marker:X2} (hierarchical or arithmetic coding) is not supported");
                case 0xC8 or 0xCC:
                    throw new CodecException("arithmetic-coded JPEG is not supported");
                case >= 0xD0 and <= 0xD7:
                    break; // a stray restart marker between segments
                default:
                    Segment(); // APPn, COM, DNL and others: skipped
                    break;
            }
        }
    }

    /// <summary>The next marker code at <see cref="pos"/> (skipping fill bytes); -1 at the end of the data.</summary>
    private int NextMarker()
    {
        // Tolerate bytes between segments, as libjpeg does (with a warning), by scanning to the next 0xFF.
        while (pos < data.Length && data[pos] != 0xFF)
            pos++;
        while (pos < data.Length && data[pos] == 0xFF)
            pos++;
        if (pos >= data.Length)
            return -1;
        return data[pos++];
    }

    private ReadOnlySpan<byte> Segment()
    {
        if (pos + 2 > data.Length)
            throw new CodecException("the JPEG data ends inside a marker segment");
        var length = data[pos] << 8 | data[pos + 1];
        if (length < 2 || pos + length > data.Length)
            throw new CodecException($"a JPEG marker segment declares {length} bytes, past the end of the data");
        var s = data.AsSpan(pos + 2, length - 2);
        pos += length;
        return s;
    }

    private void ReadFrame(int marker)
    {
        if (frame is not null)
            throw new CodecException("the JPEG data has more than one frame header");
        var s = Segment();
        if (s.Length < 6)
            throw new CodecException("the JPEG frame header is too short");
        var precision = s[0];
        var height = s[1] << 8 | s[2];
        var width = s[3] << 8 | s[4];
        var n = s[5];
        var lossless = marker == 0xC3;
        if (height == 0)
            throw new CodecException("the JPEG frame height is 0 (height from a DNL marker) which is not supported");
        if (width == 0 || n is 0 or > 4)
            throw new CodecException($"the JPEG frame header declares {width}x{height} with {n} components");
        // DCT JPEG is 8 or 12 bit (T.81). GDCM also writes a 16-bit variant of its own, which is refused here.
        if (lossless ? precision is < 2 or > 16 : precision is not (8 or 12))
            throw new CodecException($"the JPEG frame declares {precision}-bit samples, not valid for {(lossless ? "lossless" : "DCT")} JPEG");
        if ((long)width * height > maxPixels)
            throw new CodecException($"the JPEG frame declares {width}x{height}, over the limit of {maxPixels} pixels");
        if (expected is { } e && (e.Width != width || e.Height != height))
            throw new CodecException($"the compressed frame is {width}x{height} but Columns x Rows say {e.Width}x{e.Height}");
        if (s.Length < 6 + 3 * n)
            throw new CodecException("the JPEG frame header is too short for its components");
        var comps = new Component[n];
        for (var i = 0; i < n; i++)
        {
            var h = s[7 + 3 * i] >> 4;
            var v = s[7 + 3 * i] & 15;
            if (h is < 1 or > 4 || v is < 1 or > 4)
                throw new CodecException($"JPEG component {i} has invalid sampling factors {h}x{v}");
            comps[i] = new Component(s[6 + 3 * i], h, v, s[8 + 3 * i] & 3);
        }
        var f = new Frame(lossless, precision, width, height, comps);
        if (lossless)
        {
            if (comps.Any(c => c.H != 1 || c.V != 1))
                throw new CodecException("lossless JPEG with subsampled components is not supported");
            foreach (var c in comps)
                c.Plane = new int[width * height];
        }
        else
        {
            f.McusX = (width + 8 * f.HMax - 1) / (8 * f.HMax);
            f.McusY = (height + 8 * f.VMax - 1) / (8 * f.VMax);
            foreach (var c in comps)
            {
                if (f.HMax % c.H != 0 || f.VMax % c.V != 0)
                    throw new CodecException("JPEG sampling factors that are not integer ratios are not supported");
                c.BlocksX = f.McusX * c.H;
                c.BlocksY = f.McusY * c.V;
                c.Stride = c.BlocksX * 8;
                c.Plane = new int[checked(c.Stride * c.BlocksY * 8)];
                c.Width = (int)(((long)width * c.H + f.HMax - 1) / f.HMax);
                c.Height = (int)(((long)height * c.V + f.VMax - 1) / f.VMax);
            }
        }
        frame = f;
    }

    private void ReadHuffmanTables()
    {
        var s = Segment();
        var p = 0;
        while (p < s.Length)
        {
            var tc = s[p] >> 4;
            var th = s[p] & 15;
            if (tc > 1 || th > 3 || p + 17 > s.Length)
                throw new CodecException("the JPEG DHT segment is malformed");
            var counts = s.Slice(p + 1, 16).ToArray();
            var total = counts.Sum(c => c);
            if (total > 256 || p + 17 + total > s.Length)
                throw new CodecException("the JPEG DHT segment declares more codes than it holds");
            var values = s.Slice(p + 17, total).ToArray();
            var table = new HuffmanTable(counts, values);
            if (tc == 0)
                dcTables[th] = table;
            else
                acTables[th] = table;
            p += 17 + total;
        }
    }

    private void ReadQuantTables()
    {
        var s = Segment();
        var p = 0;
        while (p < s.Length)
        {
            var pq = s[p] >> 4;
            var tq = s[p] & 15;
            var size = pq == 0 ? 64 : 128;
            if (pq > 1 || tq > 3 || p + 1 + size > s.Length)
                throw new CodecException("the JPEG DQT segment is malformed");
            var table = new int[64];
            for (var k = 0; k < 64; k++)
                table[ZigZag[k]] = pq == 0 ? s[p + 1 + k] : s[p + 1 + 2 * k] << 8 | s[p + 2 + 2 * k];
            quantTables[tq] = table;
            p += 1 + size;
        }
    }

    private void ReadScan()
    {
        var f = frame ?? throw new CodecException("the JPEG scan comes before the frame header");
        var s = Segment();
        if (s.Length < 1)
            throw new CodecException("the JPEG SOS segment is empty");
        var ns = s[0];
        if (ns is < 1 or > 4 || s.Length < 4 + 2 * ns)
            throw new CodecException("the JPEG SOS segment is malformed");
        var comps = new Component[ns];
        for (var i = 0; i < ns; i++)
        {
            var id = s[1 + 2 * i];
            comps[i] = f.Components.FirstOrDefault(c => c.Id == id) ?? throw new CodecException($"the JPEG scan names component {id}, which the frame does not have");
            comps[i].DcTable = s[2 + 2 * i] >> 4;
            comps[i].AcTable = s[2 + 2 * i] & 15;
            if (comps[i].DcTable > 3 || comps[i].AcTable > 3)
                throw new CodecException("the JPEG scan names a Huffman table outside 0..3");
        }
        var ss = s[1 + 2 * ns];
        var al = s[3 + 2 * ns] & 15;
        var reader = new BitReader(data, pos);
        if (f.Lossless)
        {
            if (ss is < 1 or > 7)
                throw new CodecException($"lossless JPEG predictor {ss} is not valid (1 to 7)");
            if (al >= f.Precision)
                throw new CodecException($"lossless JPEG point transform {al} is not below the precision {f.Precision}");
            DecodeLosslessScan(f, comps, ss, al, reader);
        }
        else
        {
            // Ss, Se, Ah and Al mean nothing in a sequential scan. Some writers leave them 0; libjpeg only warns, and so
            // do we (by ignoring them).
            DecodeDctScan(f, comps, reader);
        }
        foreach (var c in comps)
            c.Decoded = true;
        pos = reader.Position;
    }

    private HuffmanTable Table(HuffmanTable?[] tables, int index, string kind) =>
        tables[index] ?? throw new CodecException($"the JPEG scan uses {kind} Huffman table {index}, which is not defined");

    private void DecodeLosslessScan(Frame f, Component[] comps, int predictor, int pt, BitReader reader)
    {
        int width = f.Width, height = f.Height;
        var tables = comps.Select(c => Table(dcTables, c.DcTable, "DC")).ToArray();
        var planes = comps.Select(c => c.Plane!).ToArray();
        var initial = 1 << (f.Precision - pt - 1);
        // In lossless mode one MCU is one sample (one scan component) or one pixel (several); a restart interval is a
        // whole number of rows, and the row after a restart is predicted like the first row.
        var restart = restartInterval;
        var mcusLeft = restart;
        var nextRst = 0;
        var firstRow = true;
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                if (restart > 0)
                {
                    if (mcusLeft == 0)
                    {
                        reader.Restart(nextRst);
                        nextRst = (nextRst + 1) & 7;
                        mcusLeft = restart;
                        firstRow = true;
                        if (x != 0)
                            throw new CodecException("a lossless JPEG restart interval does not end at a row end");
                    }
                    mcusLeft--;
                }
                for (var i = 0; i < comps.Length; i++)
                {
                    var diff = DecodeDifference(tables[i], reader);
                    var plane = planes[i];
                    var o = y * width + x;
                    int pred;
                    if (firstRow)
                        pred = x == 0 ? initial : plane[o - 1];
                    else if (x == 0)
                        pred = plane[o - width];
                    else
                    {
                        int ra = plane[o - 1], rb = plane[o - width], rc = plane[o - width - 1];
                        pred = predictor switch
                        {
                            1 => ra,
                            2 => rb,
                            3 => rc,
                            4 => ra + rb - rc,
                            5 => ra + ((rb - rc) >> 1),
                            6 => rb + ((ra - rc) >> 1),
                            _ => (ra + rb) >> 1,
                        };
                    }
                    // Reconstruction is modulo 2^16 (H.1.2.1), as in the IJG lossless code GDCM uses.
                    plane[o] = (pred + diff) & 0xFFFF;
                }
            }
            firstRow = false;
        }
        reader.CheckNotPastEnd();
        if (pt > 0)
        {
            foreach (var p in planes)
            {
                for (var i = 0; i < p.Length; i++)
                    p[i] <<= pt;
            }
        }
    }

    private static int DecodeDifference(HuffmanTable table, BitReader reader)
    {
        var s = table.Decode(reader);
        if (s == 0)
            return 0;
        if (s == 16)
            return 32768;
        if (s > 16)
            throw new CodecException($"lossless JPEG difference category {s} is not valid");
        return Extend(reader.ReadBits(s), s);
    }

    private static int Extend(int v, int s) => v < 1 << (s - 1) ? v - (1 << s) + 1 : v;

    private void DecodeDctScan(Frame f, Component[] comps, BitReader reader)
    {
        foreach (var c in comps)
        {
            if (quantTables[c.QuantTable] is null)
                throw new CodecException($"JPEG component {c.Id} uses quantisation table {c.QuantTable}, which is not defined");
            c.Dc = Table(dcTables, c.DcTable, "DC");
            c.Ac = Table(acTables, c.AcTable, "AC");
            c.Pred = 0;
        }
        var coef = new int[64];
        var idct = new InverseDct(f.Precision);
        var restart = restartInterval;
        var mcusLeft = restart;
        var nextRst = 0;
        if (comps.Length == 1)
        {
            // Non-interleaved: one block per MCU, over the component's own size in blocks.
            var c = comps[0];
            var bw = (c.Width + 7) / 8;
            var bh = (c.Height + 7) / 8;
            var q = quantTables[c.QuantTable]!;
            for (var by = 0; by < bh; by++)
            {
                for (var bx = 0; bx < bw; bx++)
                {
                    HandleRestart(comps, reader, restart, ref mcusLeft, ref nextRst);
                    DecodeBlock(c, reader, coef);
                    idct.Transform(coef, q, c.Plane!, by * 8 * c.Stride + bx * 8, c.Stride);
                }
            }
        }
        else
        {
            for (var my = 0; my < f.McusY; my++)
            {
                for (var mx = 0; mx < f.McusX; mx++)
                {
                    HandleRestart(comps, reader, restart, ref mcusLeft, ref nextRst);
                    foreach (var c in comps)
                    {
                        var q = quantTables[c.QuantTable]!;
                        for (var v = 0; v < c.V; v++)
                        {
                            for (var h = 0; h < c.H; h++)
                            {
                                DecodeBlock(c, reader, coef);
                                var bx = mx * c.H + h;
                                var by = my * c.V + v;
                                idct.Transform(coef, q, c.Plane!, by * 8 * c.Stride + bx * 8, c.Stride);
                            }
                        }
                    }
                }
            }
        }
        reader.CheckNotPastEnd();
    }

    private static void HandleRestart(Component[] comps, BitReader reader, int restart, ref int mcusLeft, ref int nextRst)
    {
        if (restart <= 0)
            return;
        if (mcusLeft == 0)
        {
            reader.Restart(nextRst);
            nextRst = (nextRst + 1) & 7;
            mcusLeft = restart;
            foreach (var c in comps)
                c.Pred = 0;
        }
        mcusLeft--;
    }

    private static void DecodeBlock(Component c, BitReader reader, int[] coef)
    {
        Array.Clear(coef);
        var t = c.Dc!.Decode(reader);
        if (t > 16)
            throw new CodecException($"JPEG DC difference category {t} is not valid");
        var diff = t == 0 ? 0 : Extend(reader.ReadBits(t), t);
        c.Pred += diff;
        coef[0] = c.Pred;
        for (var k = 1; k < 64;)
        {
            var rs = c.Ac!.Decode(reader);
            var r = rs >> 4;
            var s = rs & 15;
            if (s == 0)
            {
                if (r != 15)
                    break; // end of block
                k += 16;
                continue;
            }
            k += r;
            if (k > 63)
                throw new CodecException("a JPEG block has more than 64 coefficients");
            coef[ZigZag[k]] = Extend(reader.ReadBits(s), s);
            k++;
        }
    }

    private DecodedFrame Finish()
    {
        var f = frame ?? throw new CodecException("the JPEG data has no frame header");
        var missing = f.Components.Where(c => !c.Decoded).Select(c => c.Id).ToList();
        if (missing.Count > 0)
            throw new CodecException($"the JPEG data ends before component(s) {string.Join(", ", missing)} were decoded (truncated?)");
        int w = f.Width, h = f.Height, n = f.Components.Length;
        var output = new int[checked(w * h * n)];
        for (var i = 0; i < n; i++)
        {
            var c = f.Components[i];
            if (f.Lossless)
            {
                var plane = c.Plane!;
                for (var p = 0; p < w * h; p++)
                    output[p * n + i] = plane[p];
            }
            else
            {
                JpegUpsampler.Upsample(c.Plane!, c.Stride, c.Width, c.Height, f.HMax / c.H, f.VMax / c.V, output, w, h, n, i);
            }
        }
        return new DecodedFrame(w, h, n, f.Precision, false, output);
    }

    private sealed class Frame(bool lossless, int precision, int width, int height, Component[] components)
    {
        public bool Lossless { get; } = lossless;

        public int Precision { get; } = precision;

        public int Width { get; } = width;

        public int Height { get; } = height;

        public Component[] Components { get; } = components;

        public int HMax { get; } = components.Max(c => c.H);

        public int VMax { get; } = components.Max(c => c.V);

        public int McusX { get; set; }

        public int McusY { get; set; }
    }

    private sealed class Component(int id, int h, int v, int quantTable)
    {
        public int Id { get; } = id;

        public int H { get; } = h;

        public int V { get; } = v;

        public int QuantTable { get; } = quantTable;

        public int DcTable { get; set; }

        public int AcTable { get; set; }

        public HuffmanTable? Dc { get; set; }

        public HuffmanTable? Ac { get; set; }

        public int Pred { get; set; }

        public int[]? Plane { get; set; }

        public int Stride { get; set; }

        public int BlocksX { get; set; }

        public int BlocksY { get; set; }

        /// <summary>Size of the component in samples (libjpeg's downsampled_width/height).</summary>
        public int Width { get; set; }

        public int Height { get; set; }

        public bool Decoded { get; set; }
    }
}

/// <summary>Reads entropy-coded bits: removes stuffed zero bytes, stops at markers and feeds zeros after them.</summary>
internal sealed class BitReader(byte[] data, int start)
{
    private ulong buffer;
    private int count;
    private int pos = start;
    private int padBits;
    private bool atMarker;

    /// <summary>Position after the scan data (at the marker that ended it).</summary>
    public int Position => pos;

    private void Fill()
    {
        while (count <= 56)
        {
            int b;
            if (atMarker || pos >= data.Length)
            {
                b = 0;
                padBits += 8;
            }
            else
            {
                b = data[pos];
                if (b == 0xFF)
                {
                    var next = pos + 1 < data.Length ? data[pos + 1] : -1;
                    if (next == 0x00)
                    {
                        pos += 2;
                    }
                    else if (next == 0xFF)
                    {
                        pos++; // fill byte before a marker
                        continue;
                    }
                    else
                    {
                        atMarker = true;
                        b = 0;
                        padBits += 8;
                    }
                }
                else
                {
                    pos++;
                }
            }
            buffer |= (ulong)b << (56 - count);
            count += 8;
        }
    }

    public int PeekBits(int n)
    {
        if (count < n)
            Fill();
        return (int)(buffer >> (64 - n));
    }

    public void Skip(int n)
    {
        if (count < n)
            Fill();
        buffer <<= n;
        count -= n;
    }

    public int ReadBits(int n)
    {
        if (n == 0)
            return 0;
        var v = PeekBits(n);
        Skip(n);
        return v;
    }

    /// <summary>Fails when bits past the end of the scan data were used: the data is truncated or corrupt.</summary>
    public void CheckNotPastEnd()
    {
        if (padBits > count)
            throw new CodecException("the JPEG scan data ends early (truncated or corrupt data)");
    }

    /// <summary>Moves past the expected RSTn marker and resets the bit buffer.</summary>
    public void Restart(int expected)
    {
        CheckNotPastEnd();
        buffer = 0;
        count = 0;
        padBits = 0;
        atMarker = false;
        while (pos < data.Length && data[pos] != 0xFF)
            pos++; // leftover padding bits of the last byte were already consumed; skip to the marker
        while (pos + 1 < data.Length && data[pos] == 0xFF && data[pos + 1] == 0xFF)
            pos++;
        if (pos + 1 >= data.Length || data[pos + 1] != 0xD0 + expected)
            throw new CodecException($"the JPEG restart marker RST{expected} is missing at byte {pos}");
        pos += 2;
    }
}

/// <summary>A JPEG Huffman table with a 9-bit lookup for short codes and the canonical-code walk for long ones.</summary>
internal sealed class HuffmanTable
{
    private const int LookupBits = 9;
    private readonly byte[] lookupLength = new byte[1 << LookupBits];
    private readonly byte[] lookupValue = new byte[1 << LookupBits];
    private readonly int[] maxCode = new int[18];
    private readonly int[] valueOffset = new int[17];
    private readonly byte[] values;

    public HuffmanTable(byte[] counts, byte[] values)
    {
        this.values = values;
        var code = 0;
        var k = 0;
        for (var len = 1; len <= 16; len++)
        {
            valueOffset[len] = k - code;
            var n = counts[len - 1];
            if (code + n > 1 << len)
                throw new CodecException("a JPEG Huffman table has more codes than its code lengths allow");
            if (n > 0)
            {
                if (len <= LookupBits)
                {
                    for (var i = 0; i < n; i++)
                    {
                        var c = code + i;
                        var first = c << (LookupBits - len);
                        var span = 1 << (LookupBits - len);
                        for (var j = 0; j < span; j++)
                        {
                            lookupLength[first + j] = (byte)len;
                            lookupValue[first + j] = values[k + i];
                        }
                    }
                }
                code += n;
                k += n;
                maxCode[len] = code - 1;
            }
            else
            {
                maxCode[len] = -1;
            }
            code <<= 1;
        }
        maxCode[17] = int.MaxValue;
    }

    public int Decode(BitReader reader)
    {
        var peek = reader.PeekBits(16);
        var idx = peek >> (16 - LookupBits);
        var len = lookupLength[idx];
        if (len != 0)
        {
            reader.Skip(len);
            return lookupValue[idx];
        }
        for (var l = LookupBits + 1; l <= 16; l++)
        {
            var code = peek >> (16 - l);
            if (code <= maxCode[l])
            {
                reader.Skip(l);
                var index = code + valueOffset[l];
                if ((uint)index >= (uint)values.Length)
                    throw new CodecException("a corrupt JPEG Huffman code");
                return values[index];
            }
        }
        throw new CodecException("a corrupt JPEG Huffman code");
    }
}
