using System.Security;
using System.Text;
using System.Xml;
using VisionRwkv.Common;

namespace VisionRwkv.Labeling;

/// <summary>How sidecar files are named.</summary>
public enum XmpNaming
{
    /// <summary><c>photo.jpg.xmp</c>: digiKam, darktable, Immich.</summary>
    Appended,

    /// <summary><c>photo.xmp</c>: Lightroom, Capture One, digiKam's "compatible" mode.</summary>
    Lightroom,
}

/// <summary>XMP sidecar settings.</summary>
public sealed record XmpOptions
{
    public XmpNaming Naming { get; init; } = XmpNaming.Appended;

    /// <summary>Root of the hierarchical keywords, '|'-separated; null: <c>AI|&lt;model&gt;</c> (the model name, before any '@').</summary>
    public string? Root { get; init; }

    /// <summary>Only labels scoring at least this become keywords.</summary>
    public float MinScore { get; init; } = 0.5f;

    /// <summary>Report what would be written and write nothing.</summary>
    public bool DryRun { get; init; }
}

/// <summary>What the sidecar step did.</summary>
public sealed class XmpReport
{
    public int Created { get; internal set; }

    public int Updated { get; internal set; }

    /// <summary>Sidecars that already held every keyword (left byte for byte as they were).</summary>
    public int Unchanged { get; internal set; }

    /// <summary>Labeled files with no label at or above the minimum score (no sidecar touched).</summary>
    public int NoKeywords { get; internal set; }

    /// <summary>Sidecars that could not be merged (not XML, not XMP): left untouched, one line each.</summary>
    public List<string> Errors { get; } = [];

    /// <summary>With <see cref="XmpOptions.DryRun"/>: one line per sidecar that would change.</summary>
    public List<string> Planned { get; } = [];
}

/// <summary>Writes the labels of journal rows into XMP sidecars through <see cref="XmpSidecar"/>.</summary>
internal sealed class XmpWriter(XmpOptions options, string modelId)
{
    private readonly string root = options.Root ?? "AI|" + modelId.Split('@')[0];

    public XmpReport Report { get; } = new();

    public void Write(JournalRow row)
    {
        var labels = row.Labels.Where(l => l.Score >= options.MinScore).Select(l => l.Label).ToList();
        if (labels.Count == 0)
        {
            Report.NoKeywords++;
            return;
        }
        var path = XmpSidecar.PathFor(row.Path, options.Naming);
        try
        {
            var result = XmpSidecar.Merge(path, labels, root, options.DryRun);
            switch (result.Outcome)
            {
                case XmpMergeOutcome.Created: Report.Created++; break;
                case XmpMergeOutcome.Updated: Report.Updated++; break;
                default: Report.Unchanged++; break;
            }
            if (options.DryRun && result.Outcome != XmpMergeOutcome.Unchanged)
                Report.Planned.Add($"{(result.Outcome == XmpMergeOutcome.Created ? "create" : "update")} {path}: + {string.Join(", ", result.Added)}");
        }
        catch (Exception e) when (e is XmlException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            Report.Errors.Add($"{path}: {e.Message} (left unchanged)");
        }
    }
}

public enum XmpMergeOutcome
{
    Unchanged,
    Created,
    Updated,
}

/// <summary>What a merge did: the outcome and the property values it added.</summary>
public sealed record XmpMergeResult(XmpMergeOutcome Outcome, IReadOnlyList<string> Added);

/// <summary>
/// Merges keywords into an XMP sidecar without losing anything: <c>dc:subject</c> (flat keywords),
/// <c>lr:hierarchicalSubject</c> (<c>AI|model|label</c>) and <c>digiKam:TagsList</c> (<c>AI/model/label</c>), the three
/// that digiKam, Lightroom, darktable and Immich read. An existing sidecar is read with an XML reader that locates the
/// three arrays; the new <c>rdf:li</c> items are then spliced into the original text before each array's end tag (a
/// missing property goes into a new <c>rdf:Description</c> before <c>&lt;/rdf:RDF&gt;</c>, which RDF allows). Every
/// other byte of the file stays as it was: quoting, attribute layout, comments, padding. A value already present is not
/// added again, so a second run changes nothing. The result is parsed again before it is written (atomically); a file
/// that is not XMP, or whose arrays are not where XMP puts them, is left untouched and reported.
/// <para>
/// Why not XmpCore (served, a port of Adobe's toolkit): it parses into its own data model and serialises the whole packet
/// anew. Tried here on an exiftool-written sidecar (keywords, rating, title, description, GPS, a region struct) with one
/// keyword appended: exiftool read the same values back, but XMPToolkit changed from "Image::ExifTool 12.57" to "Adobe
/// XMP Core 6.1.10", the nine rdf:Description blocks became one, simple values turned into attributes, and 2,620 bytes
/// became 4,481 (padding). System.Xml's XmlDocument, tried next, keeps the structure but rewrites quotes and attribute
/// line breaks; hence the splice.
/// </para>
/// </summary>
public static class XmpSidecar
{
    public const string RdfNs = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
    public const string DcNs = "http://purl.org/dc/elements/1.1/";
    public const string LrNs = "http://ns.adobe.com/lightroom/1.0/";
    public const string DigiKamNs = "http://www.digikam.org/ns/1.0/";

    /// <summary>The three keyword arrays: namespace, our prefix, property, array kind.</summary>
    private static readonly (string Ns, string Prefix, string Name, string Kind)[] Properties =
    [
        (DcNs, "dc", "subject", "Bag"),
        (LrNs, "lr", "hierarchicalSubject", "Bag"),
        (DigiKamNs, "digiKam", "TagsList", "Seq"),
    ];

    /// <summary>A new sidecar, in the packet layout exiftool and Adobe write; the description is spliced in like any other.</summary>
    private const string EmptyPacket =
        "<?xpacket begin=\"\uFEFF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n" +
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"Vision-RWKV .NET\">\n" +
        " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n" +
        " </rdf:RDF>\n" +
        "</x:xmpmeta>\n" +
        "<?xpacket end=\"w\"?>\n";

    /// <summary><c>photo.jpg.xmp</c> or, Lightroom style, <c>photo.xmp</c>.</summary>
    public static string PathFor(string imagePath, XmpNaming naming)
    {
        ArgumentNullException.ThrowIfNull(imagePath);
        return naming == XmpNaming.Lightroom ? Path.ChangeExtension(imagePath, ".xmp") : imagePath + ".xmp";
    }

    /// <summary>
    /// Adds <paramref name="labels"/> under <paramref name="root"/> ('|'-separated) to the sidecar at <paramref name="path"/>,
    /// creating it when absent; writes atomically, and only when something was added (never with <paramref name="dryRun"/>).
    /// </summary>
    public static XmpMergeResult Merge(string path, IReadOnlyList<string> labels, string root, bool dryRun = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        var exists = File.Exists(path);
        Encoding encoding = new UTF8Encoding(false);
        string text;
        if (exists)
        {
            var bytes = File.ReadAllBytes(path);
            using var reader = new StreamReader(new MemoryStream(bytes), new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
            try
            {
                text = reader.ReadToEnd();
            }
            catch (DecoderFallbackException e)
            {
                throw new InvalidDataException("not UTF-8 text: not an XMP sidecar", e);
            }
            // Write back in the encoding found, with a byte order mark only when the file had one.
            var bom = reader.CurrentEncoding.GetPreamble();
            encoding = bom.Length > 0 && bytes.AsSpan().StartsWith(bom) ? reader.CurrentEncoding : new UTF8Encoding(false);
        }
        else
            text = EmptyPacket;
        var (merged, added) = MergeText(text, labels, root);
        if (added.Count == 0 && exists)
            return new XmpMergeResult(XmpMergeOutcome.Unchanged, []);
        if (!dryRun)
            AtomicFile.Write(path, s =>
            {
                var preamble = encoding.GetPreamble();
                s.Write(preamble);
                s.Write(encoding.GetBytes(merged));
            });
        return new XmpMergeResult(exists ? XmpMergeOutcome.Updated : XmpMergeOutcome.Created, added);
    }

    /// <summary>The merged packet text and the values added ("prefix:name=value"); <paramref name="text"/> itself when nothing is added.</summary>
    public static (string Text, IReadOnlyList<string> Added) MergeText(string text, IReadOnlyList<string> labels, string root)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(root);
        // '|' and '/' separate hierarchy levels in the two hierarchical properties: a label's own ones become '-'.
        var leaves = labels.Select(l => l.Trim()).Where(l => l.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        var rootParts = root.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        List<string>[] wanted =
        [
            leaves,
            [.. leaves.Select(l => string.Join('|', [.. rootParts, l.Replace('|', '-')]))],
            [.. leaves.Select(l => string.Join('/', [.. rootParts.Select(p => p.Replace('/', '-')), l.Replace('|', '-').Replace('/', '-')]))],
        ];

        var scan = Scan(text);
        var inserts = new List<(int Offset, string Text)>();
        var added = new List<string>();
        var newProperties = new StringBuilder();
        var newNamespaces = new List<(string Prefix, string Ns)>();
        var nl = text.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";
        var rdf = scan.RdfPrefix.Length > 0 ? scan.RdfPrefix + ":" : "rdf:";
        var baseIndent = scan.RdfIndent + " ";
        for (var i = 0; i < Properties.Length; i++)
        {
            var (ns, prefix, name, kind) = Properties[i];
            var found = scan.Arrays[i];
            var missing = wanted[i].Where(v => found?.Values.Contains(v) != true).Distinct(StringComparer.Ordinal).ToList();
            if (missing.Count == 0)
                continue;
            added.AddRange(missing.Select(v => $"{prefix}:{name}={v}"));
            if (found is null)
            {
                // A new property in a new description: our prefixes, declared there.
                newNamespaces.Add((prefix, ns));
                newProperties.Append(baseIndent).Append(' ').Append($"<{prefix}:{name}>").Append(nl)
                    .Append(baseIndent).Append("  ").Append($"<{rdf}{kind}>").Append(nl);
                foreach (var v in missing)
                    newProperties.Append(baseIndent).Append("   ").Append($"<{rdf}li>{Escape(v)}</{rdf}li>").Append(nl);
                newProperties.Append(baseIndent).Append("  ").Append($"</{rdf}{kind}>").Append(nl)
                    .Append(baseIndent).Append(' ').Append($"</{prefix}:{name}>").Append(nl);
                continue;
            }
            var li = found.Prefix.Length > 0 ? found.Prefix + ":li" : "li";
            var sb = new StringBuilder();
            foreach (var v in missing)
            {
                if (found.EndOnOwnLine)
                    sb.Append(found.ItemIndent).Append($"<{li}>{Escape(v)}</{li}>").Append(nl);
                else
                    sb.Append($"<{li}>{Escape(v)}</{li}>");
            }
            inserts.Add((found.InsertAt, sb.ToString()));
        }
        if (newProperties.Length > 0)
        {
            var about = Escape(scan.About ?? "");
            var decl = string.Concat(newNamespaces.Select(n => $"{nl}{baseIndent}   xmlns:{n.Prefix}=\"{n.Ns}\""));
            var rdfDecl = scan.RdfPrefix.Length == 0 ? $"{nl}{baseIndent}   xmlns:rdf=\"{RdfNs}\"" : "";
            var block = $"{baseIndent}<{rdf}Description {rdf}about=\"{about}\"{rdfDecl}{decl}>{nl}{newProperties}{baseIndent}</{rdf}Description>{nl}";
            inserts.Add(scan.RdfEndOnOwnLine ? (scan.RdfInsertAt, block) : (scan.RdfInsertAt, nl + block));
        }
        if (inserts.Count == 0)
            return (text, added);
        var result = new StringBuilder(text);
        foreach (var (offset, insert) in inserts.OrderByDescending(x => x.Offset))
            result.Insert(offset, insert);
        var merged = result.ToString();
        // Never write what does not parse back with every value in place.
        var check = Scan(merged);
        for (var i = 0; i < Properties.Length; i++)
        {
            if (wanted[i].Count > 0 && (check.Arrays[i] is not { } a || !wanted[i].All(a.Values.Contains)))
                throw new InvalidDataException($"merging {Properties[i].Prefix}:{Properties[i].Name} did not produce a readable packet; the sidecar was not changed");
        }
        return (merged, added);
    }

    private static string Escape(string v) => SecurityElement.Escape(v);

    /// <summary>The reader's line and column must land on the tag, or no offset derived from them can be trusted.</summary>
    private static void CheckTag(string text, int offset, string expected)
    {
        if (offset < 0 || string.CompareOrdinal(text, offset, expected, 0, expected.Length) != 0)
            throw new InvalidDataException($"cannot locate a tag at offset {offset}; the sidecar was not changed");
    }

    /// <summary>Where the keyword arrays of a packet are, and what they hold.</summary>
    private sealed class ArrayLocation
    {
        public HashSet<string> Values { get; } = new(StringComparer.Ordinal);

        /// <summary>Prefix of the array element (rdf:Bag), used for the items we add.</summary>
        public string Prefix { get; set; } = "rdf";

        public int InsertAt { get; set; } = -1;

        public bool EndOnOwnLine { get; set; }

        public string ItemIndent { get; set; } = "";
    }

    private sealed class PacketScan
    {
        public ArrayLocation?[] Arrays { get; } = new ArrayLocation?[Properties.Length];

        public string RdfPrefix { get; set; } = "rdf";

        public string RdfIndent { get; set; } = "";

        public int RdfInsertAt { get; set; } = -1;

        public bool RdfEndOnOwnLine { get; set; }

        public string? About { get; set; }
    }

    /// <summary>
    /// Reads the packet and finds, for each keyword property that is a child of a top-level rdf:Description, its array's
    /// values and the offset before its end tag; and the offset before &lt;/rdf:RDF&gt;.
    /// </summary>
    private static PacketScan Scan(string text)
    {
        var lineStarts = new List<int> { 0 };
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.Length || text[i + 1] != '\n')))
                lineStarts.Add(i + 1);
        }
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreWhitespace = false };
        using var reader = XmlReader.Create(new StringReader(text), settings);
        var info = (IXmlLineInfo)reader;
        int Offset() => lineStarts[info.LineNumber - 1] + info.LinePosition - 1;
        // (offset where an insertion before this tag goes, whether the tag starts its line, the line's indentation)
        (int At, bool OwnLine, string Indent) Before(int tagStart)
        {
            var lineStart = text.LastIndexOfAny(['\n', '\r'], Math.Max(0, tagStart - 1)) + 1;
            if (tagStart > 0 && (text[tagStart - 1] == '\n' || text[tagStart - 1] == '\r'))
                lineStart = tagStart;
            var indent = text[lineStart..tagStart];
            return string.IsNullOrWhiteSpace(indent) || indent.Length == 0 ? (lineStart, true, indent) : (tagStart, false, "");
        }

        var scan = new PacketScan();
        var stack = new List<(string Ns, string Local)>();
        var sawRdf = false;
        ArrayLocation? current = null;   // the keyword property being read
        var arrayDepth = -1;             // stack depth of its rdf:Bag/Seq
        StringBuilder? liText = null;
        while (reader.Read())
        {
            switch (reader.NodeType)
            {
                case XmlNodeType.Element:
                {
                    var depth = stack.Count;
                    var parent = depth > 0 ? stack[^1] : default;
                    var grand = depth > 1 ? stack[^2] : default;
                    var tagStart = Offset() - 1;
                    CheckTag(text, tagStart, "<");
                    if (reader.NamespaceURI == RdfNs && reader.LocalName == "RDF" && !sawRdf)
                    {
                        sawRdf = true;
                        scan.RdfPrefix = reader.Prefix;
                        scan.RdfIndent = Before(tagStart).Indent;
                    }
                    else if (reader.NamespaceURI == RdfNs && reader.LocalName == "Description" && parent == (RdfNs, "RDF"))
                        scan.About ??= reader.GetAttribute("about", RdfNs);
                    else if (parent.Ns == RdfNs && parent.Local == "Description" && grand == (RdfNs, "RDF"))
                    {
                        var i = Array.FindIndex(Properties, p => p.Ns == reader.NamespaceURI && p.Name == reader.LocalName);
                        if (i >= 0 && scan.Arrays[i] is null)
                        {
                            if (reader.IsEmptyElement || reader.HasAttributes && reader.GetAttribute("parseType", RdfNs) is not null)
                                throw new InvalidDataException($"{reader.Name} is not an rdf:Bag/Seq; the sidecar was not changed");
                            current = scan.Arrays[i] = new ArrayLocation();
                        }
                    }
                    else if (current is not null && arrayDepth < 0 && reader.NamespaceURI == RdfNs && reader.LocalName is "Bag" or "Seq" or "Alt")
                    {
                        if (reader.IsEmptyElement)
                            throw new InvalidDataException($"an empty <{reader.Name}/> keyword array; the sidecar was not changed");
                        arrayDepth = depth;
                        current.Prefix = reader.Prefix;
                    }
                    else if (current is not null && arrayDepth == depth - 1 && reader.NamespaceURI == RdfNs && reader.LocalName == "li")
                    {
                        var (_, own, indent) = Before(tagStart);
                        if (own && current.ItemIndent.Length == 0)
                            current.ItemIndent = indent;
                        liText = new StringBuilder();
                        if (reader.IsEmptyElement)
                        {
                            current.Values.Add("");
                            liText = null;
                        }
                    }
                    if (!reader.IsEmptyElement)
                        stack.Add((reader.NamespaceURI, reader.LocalName));
                    break;
                }
                case XmlNodeType.Text:
                case XmlNodeType.CDATA:
                case XmlNodeType.SignificantWhitespace:
                case XmlNodeType.Whitespace:
                    liText?.Append(reader.Value);
                    break;
                case XmlNodeType.EndElement:
                {
                    var tagStart = Offset() - 2;
                    CheckTag(text, tagStart, "</");
                    var depth = stack.Count - 1;
                    var (ns, local) = stack[^1];
                    stack.RemoveAt(depth);
                    if (liText is not null && ns == RdfNs && local == "li" && current is not null)
                    {
                        current.Values.Add(liText.ToString());
                        liText = null;
                    }
                    else if (current is not null && depth == arrayDepth)
                    {
                        var (at, own, indent) = Before(tagStart);
                        current.InsertAt = at;
                        current.EndOnOwnLine = own;
                        if (current.ItemIndent.Length == 0)
                            current.ItemIndent = indent + " ";
                        arrayDepth = -1;
                    }
                    else if (current is not null && arrayDepth < 0 && depth == stack.Count && stack.Count >= 2 && stack[^1] == (RdfNs, "Description"))
                    {
                        if (current.InsertAt < 0)
                            throw new InvalidDataException($"the keyword property holds no rdf:Bag/Seq; the sidecar was not changed");
                        current = null;
                    }
                    else if (ns == RdfNs && local == "RDF" && scan.RdfInsertAt < 0)
                    {
                        var (at, own, _) = Before(tagStart);
                        scan.RdfInsertAt = at;
                        scan.RdfEndOnOwnLine = own;
                    }
                    break;
                }
            }
        }
        if (!sawRdf || scan.RdfInsertAt < 0)
            throw new InvalidDataException("no rdf:RDF element: not an XMP packet");
        return scan;
    }
}
