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
/// that digiKam, Lightroom, darktable and Immich read. An existing sidecar is edited as an XML document by inserting
/// <c>rdf:li</c> items (and, where a property is missing, the property): no existing element, attribute, namespace,
/// comment or whitespace is rewritten, and a value already present is not added again, so a second run changes nothing
/// and the file keeps its bytes. A file that is not XMP is left untouched and reported.
/// <para>
/// Why not XmpCore (served, a port of Adobe's toolkit): it parses into its own data model and serialises the whole packet
/// anew (its own prefixes, order and layout), so merging three properties would rewrite every other line of a user's
/// sidecar. Inserting nodes into the document keeps every other byte and is easy to check with exiftool.
/// </para>
/// </summary>
public static class XmpSidecar
{
    public const string RdfNs = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
    public const string DcNs = "http://purl.org/dc/elements/1.1/";
    public const string LrNs = "http://ns.adobe.com/lightroom/1.0/";
    public const string DigiKamNs = "http://www.digikam.org/ns/1.0/";
    private const string XNs = "adobe:ns:meta/";

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
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(root);
        // '|' and '/' separate hierarchy levels in the two hierarchical properties: a label's own ones become '-'.
        var leaves = labels.Select(l => l.Trim()).Where(l => l.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        var rootParts = root.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var hierarchical = leaves.Select(l => string.Join('|', [.. rootParts, Level(l)])).ToList();
        var tags = leaves.Select(l => string.Join('/', [.. rootParts.Select(p => p.Replace('/', '-')), Level(l).Replace('/', '-')])).ToList();

        var exists = File.Exists(path);
        var doc = new XmlDocument { PreserveWhitespace = true, XmlResolver = null };
        if (exists)
        {
            var bytes = File.ReadAllBytes(path);
            using var reader = XmlReader.Create(new MemoryStream(bytes), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            doc.Load(reader);
        }
        else
            doc.LoadXml(EmptyPacket);

        var rdf = FindRdf(doc) ?? throw new InvalidDataException("no rdf:RDF element: not an XMP packet");
        var added = new List<string>();
        added.AddRange(AddToArray(doc, rdf, DcNs, "dc", "subject", "Bag", leaves));
        added.AddRange(AddToArray(doc, rdf, LrNs, "lr", "hierarchicalSubject", "Bag", hierarchical));
        added.AddRange(AddToArray(doc, rdf, DigiKamNs, "digiKam", "TagsList", "Seq", tags));
        if (added.Count == 0 && exists)
            return new XmpMergeResult(XmpMergeOutcome.Unchanged, []);
        if (!dryRun)
        {
            AtomicFile.Write(path, stream =>
            {
                var settings = new XmlWriterSettings { Encoding = new UTF8Encoding(false), OmitXmlDeclaration = doc.FirstChild is not XmlDeclaration, Indent = false };
                using var writer = XmlWriter.Create(stream, settings);
                doc.Save(writer);
            });
        }
        return new XmpMergeResult(exists ? XmpMergeOutcome.Updated : XmpMergeOutcome.Created, added);
    }

    private static string Level(string label) => label.Replace('|', '-');

    /// <summary>A new sidecar, in the packet layout exiftool and Adobe write.</summary>
    private const string EmptyPacket =
        "<?xpacket begin=\"\uFEFF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n" +
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"Vision-RWKV .NET\">\n" +
        " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n" +
        "  <rdf:Description rdf:about=\"\"\n" +
        "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n" +
        "    xmlns:lr=\"http://ns.adobe.com/lightroom/1.0/\"\n" +
        "    xmlns:digiKam=\"http://www.digikam.org/ns/1.0/\">\n" +
        "  </rdf:Description>\n" +
        " </rdf:RDF>\n" +
        "</x:xmpmeta>\n" +
        "<?xpacket end=\"w\"?>";

    private static XmlElement? FindRdf(XmlDocument doc)
    {
        if (doc.DocumentElement is { LocalName: "RDF", NamespaceURI: RdfNs } top)
            return top;
        if (doc.DocumentElement is { LocalName: "xmpmeta", NamespaceURI: XNs or "adobe:ns:meta" } meta)
            return meta.ChildNodes.OfType<XmlElement>().FirstOrDefault(e => e.LocalName == "RDF" && e.NamespaceURI == RdfNs);
        return null;
    }

    /// <summary>
    /// Adds the missing <paramref name="values"/> to the array property ns:name, wherever an rdf:Description holds it;
    /// creates the property (in the first rdf:Description, which is created too when there is none) when no one does.
    /// Returns the values added, as "prefix:name=value".
    /// </summary>
    private static List<string> AddToArray(XmlDocument doc, XmlElement rdf, string ns, string prefix, string name, string arrayKind, IReadOnlyList<string> values)
    {
        var descriptions = rdf.ChildNodes.OfType<XmlElement>().Where(e => e.LocalName == "Description" && e.NamespaceURI == RdfNs).ToList();
        var property = descriptions.SelectMany(d => d.ChildNodes.OfType<XmlElement>()).FirstOrDefault(e => e.LocalName == name && e.NamespaceURI == ns);
        var result = new List<string>();
        if (property is null)
        {
            if (values.Count == 0)
                return result;
            var description = descriptions.FirstOrDefault();
            if (description is null)
            {
                description = doc.CreateElement("rdf", "Description", RdfNs);
                description.SetAttribute("about", RdfNs, "");
                rdf.AppendChild(doc.CreateWhitespace("\n  "));
                rdf.AppendChild(description);
                rdf.AppendChild(doc.CreateWhitespace("\n "));
            }
            // Use the prefix the document already binds to this namespace, else ours (declared on the new element).
            var usedPrefix = description.GetPrefixOfNamespace(ns);
            property = doc.CreateElement(string.IsNullOrEmpty(usedPrefix) ? prefix : usedPrefix, name, ns);
            var array = doc.CreateElement("rdf", arrayKind, RdfNs);
            property.AppendChild(doc.CreateWhitespace("\n    "));
            property.AppendChild(array);
            property.AppendChild(doc.CreateWhitespace("\n   "));
            var indent = description.LastChild is XmlWhitespace ws ? ws : null;
            description.InsertBefore(doc.CreateWhitespace("\n   "), indent);
            description.InsertBefore(property, indent);
            if (indent is null)
                description.AppendChild(doc.CreateWhitespace("\n  "));
        }
        var container = property.ChildNodes.OfType<XmlElement>().FirstOrDefault(e => e.NamespaceURI == RdfNs && e.LocalName is "Bag" or "Seq" or "Alt");
        if (container is null)
        {
            // A simple (non-array) value where an array belongs: never rewrite it; report instead.
            if (property.ChildNodes.OfType<XmlElement>().Any() || property.InnerText.Trim().Length > 0 || property.HasAttributes)
                throw new InvalidDataException($"{prefix}:{name} is not an rdf:Bag/Seq; the sidecar was not changed");
            container = doc.CreateElement("rdf", arrayKind, RdfNs);
            property.AppendChild(container);
        }
        var present = container.ChildNodes.OfType<XmlElement>()
            .Where(e => e.LocalName == "li" && e.NamespaceURI == RdfNs)
            .Select(e => e.InnerText)
            .ToHashSet(StringComparer.Ordinal);
        var lastWs = container.LastChild as XmlWhitespace;
        foreach (var v in values)
        {
            if (!present.Add(v))
                continue;
            var li = doc.CreateElement("rdf", "li", RdfNs);
            li.InnerText = v;
            container.InsertBefore(doc.CreateWhitespace("\n     "), lastWs);
            container.InsertBefore(li, lastWs);
            result.Add($"{prefix}:{name}={v}");
        }
        if (result.Count > 0 && lastWs is null)
            container.AppendChild(doc.CreateWhitespace("\n    "));
        return result;
    }
}
