using VisionRwkv.Common;
using System.Globalization;
using System.IO.Compression;
using System.Numerics;
using System.Text;
using System.Text.Json;
using TorchSharp;

namespace VisionRwkv.Checkpoints;

/// <summary>
/// PyTorch <c>torch.save</c> files in the zip format (PyTorch 1.6 and later): <c>&lt;name&gt;/data.pkl</c> is a pickle
/// whose tensors point, through persistent ids, at raw little-endian storages <c>&lt;name&gt;/data/&lt;key&gt;</c>; and
/// in the legacy format (before 1.6, or <c>_use_new_zipfile_serialization=False</c>): five pickles and raw storages in
/// one stream. Reading goes through <see cref="RestrictedUnpickler"/>, which never executes code from the file.
/// </summary>
public static class Pth
{
    /// <summary>Wrapper keys that hold the state dict, tried in this order (mmcv/mmcls, timm/DeiT, EMA-only files).</summary>
    public static readonly IReadOnlyList<string> WrapperKeys = ["state_dict", "model", "module", "model_ema", "state_dict_ema"];

    /// <summary>
    /// Reads the state dict. <paramref name="wrapperKey"/> picks the top-level entry that holds it; by default the
    /// first of <see cref="WrapperKeys"/> that is a dict, else the top level itself.
    /// </summary>
    public static Checkpoint Read(string path, string? wrapperKey = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such checkpoint file", path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException(".pth reading assumes a little-endian machine");

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> magic = stackalloc byte[4];
        int got = stream.Read(magic);
        if (got >= 2 && magic[0] == 0x80 && magic[1] is >= 2 and <= 5)
            return ReadLegacy(path, stream, wrapperKey);
        if (got < 4 || magic[0] != 'P' || magic[1] != 'K')
            throw new InvalidDataException($"{path}: not a PyTorch checkpoint (neither a torch.save zip archive nor a legacy torch.save pickle stream)");
        stream.Position = 0;

        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{path}: a zip archive whose directory is corrupt or truncated (not a complete torch.save file)", ex);
        }
        using (zip)
        {
            var pklEntry = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                                                             && e.FullName.IndexOf('/', StringComparison.Ordinal) == e.FullName.Length - "/data.pkl".Length)
                           ?? throw new InvalidDataException(zip.Entries.Any(e => e.FullName.EndsWith("constants.pkl", StringComparison.Ordinal))
                               ? $"{path}: this is a TorchScript archive, not a torch.save checkpoint"
                               : $"{path}: zip archive has no <name>/data.pkl; not a torch.save checkpoint");
            var prefix = pklEntry.FullName[..^"data.pkl".Length];
            var byteorder = zip.GetEntry(prefix + "byteorder");
            if (byteorder is not null)
            {
                using var r = new StreamReader(byteorder.Open());
                var order = r.ReadToEnd().Trim();
                if (order != "little")
                    throw new InvalidDataException($"{path}: byteorder '{order}' is not supported (only little)");
            }

            var pickle = ReadAll(path, pklEntry);
            using var scope = torch.NewDisposeScope();
            var storages = new Dictionary<string, PyStorage>(StringComparer.Ordinal);
            PyStorage LoadStorage(PyTuple pid) => LoadPersistent(path, zip, prefix, pid, storages);
            var root = new RestrictedUnpickler(path, pickle, LoadStorage).Load();

            return ToCheckpoint(path, root, wrapperKey);
        }
    }

    /// <summary>The legacy format's first pickle: the number torch.save writes to mark its files.</summary>
    private static readonly BigInteger LegacyMagic = BigInteger.Parse("1950a86a20f9469cfc6c", NumberStyles.HexNumber);

    /// <summary>Largest legacy file read (it is read into memory whole; zip files are read entry by entry).</summary>
    private const long MaxLegacyBytes = int.MaxValue;

    /// <summary>
    /// The legacy stream: pickles of the magic number, the protocol version (1001) and a sys_info dict, then the object
    /// (storages as persistent ids <c>('storage', type, key, location, numel, view_metadata)</c>), then the sorted list
    /// of storage keys, then for each key an int64 element count and the storage's raw little-endian bytes. The object is
    /// unpickled twice: once to find where it ends (its storages are not read yet), once with the storages filled in.
    /// </summary>
    private static Checkpoint ReadLegacy(string path, FileStream stream, string? wrapperKey)
    {
        if (stream.Length > MaxLegacyBytes)
            throw new InvalidDataException($"{path}: legacy torch.save file of {stream.Length} bytes is too large (limit {MaxLegacyBytes}); re-save it in the zip format");
        var data = new byte[stream.Length];
        stream.Position = 0;
        stream.ReadExactly(data);
        static PyStorage NoStorage(PyTuple pid) => throw new InvalidDataException("a storage appears before the object pickle");
        var header = new RestrictedUnpickler(path, data, NoStorage);
        if (header.Load() is not BigInteger magic || magic != LegacyMagic)
            throw new InvalidDataException($"{path}: a pickle, but not a torch.save file (wrong magic number at byte 0)");
        var version = new RestrictedUnpickler(path, data, NoStorage, header.Position);
        if (version.Load() is not long protocol || protocol != 1001)
            throw new InvalidDataException($"{path}: legacy torch.save protocol is not 1001 (byte {header.Position})");
        var sysInfo = new RestrictedUnpickler(path, data, NoStorage, version.Position);
        if (sysInfo.Load() is PyDict info && info.TryGet("little_endian", out var little) && little is false)
            throw new InvalidDataException($"{path}: saved on a big-endian machine; only little-endian files are supported");
        int objectStart = sysInfo.Position;

        // Pass 1: the object's extent and its storages' declared types and sizes (placeholders, never read).
        var declared = new Dictionary<string, (torch.ScalarType Type, long Numel)>(StringComparer.Ordinal);
        using var scope = torch.NewDisposeScope();
        PyStorage Declare(PyTuple pid)
        {
            var (key, type, numel) = LegacyStorageId(path, pid);
            declared.TryAdd(key, (type, numel));
            return new PyStorage(key, torch.empty(numel, dtype: type));
        }
        var probe = new RestrictedUnpickler(path, data, Declare, objectStart);
        probe.Load();
        var keysPickle = new RestrictedUnpickler(path, data, NoStorage, probe.Position);
        if (keysPickle.Load() is not List<object?> keyList || keyList.Any(k => k is not string))
            throw new InvalidDataException($"{path}: the storage key list after the object (byte {probe.Position}) is not a list of strings");

        // The raw storages, in the order of the key list.
        var storages = new Dictionary<string, PyStorage>(StringComparer.Ordinal);
        long at = keysPickle.Position;
        foreach (string key in keyList.Cast<string>())
        {
            if (!declared.TryGetValue(key, out var d))
                throw new InvalidDataException($"{path}: storage '{key}' is listed but no tensor uses it");
            if (at + 8 > data.Length)
                throw new InvalidDataException($"{path}: file ends at byte {data.Length} before storage '{key}' (byte {at})");
            long numel = BitConverter.ToInt64(data, (int)at);
            if (numel != d.Numel)
                throw new InvalidDataException($"{path}: storage '{key}' at byte {at} holds {numel} elements, its tensors declare {d.Numel}");
            long bytes = numel * DTypes.Size(d.Type);
            if (at + 8 + bytes > data.Length)
                throw new InvalidDataException($"{path}: storage '{key}' needs {bytes} bytes at byte {at + 8}, the file ends at {data.Length}");
            var flat = torch.empty(numel, dtype: d.Type);
            using (var ms = new MemoryStream(data, (int)(at + 8), (int)bytes, writable: false))
                DTypes.ReadInto(flat, ms, bytes);
            storages[key] = new PyStorage(key, flat);
            at += 8 + bytes;
        }
        // Pass 2: the object again, its tensors now built on the real storages.
        PyStorage Load(PyTuple pid)
        {
            var (key, _, _) = LegacyStorageId(path, pid);
            return storages.TryGetValue(key, out var s) ? s
                : throw new InvalidDataException($"{path}: storage '{key}' is used by a tensor but missing from the key list");
        }
        var root = new RestrictedUnpickler(path, data, Load, objectStart).Load();
        return ToCheckpoint(path, root, wrapperKey);
    }

    /// <summary>A legacy persistent id: ('storage', type, key, location, numel, view_metadata) with no view.</summary>
    private static (string Key, torch.ScalarType Type, long Numel) LegacyStorageId(string path, PyTuple pid)
    {
        if (pid.Count < 5 || pid[0] as string != "storage")
            throw new InvalidDataException($"{path}: persistent id is not a ('storage', type, key, location, numel, view) tuple");
        if (pid[1] is not PyGlobal type || !RestrictedUnpickler.StorageTypes.TryGetValue(type.Name, out var dtype))
            throw new InvalidDataException($"{path}: unknown storage type {RestrictedUnpickler.Describe(pid[1])}");
        var key = pid[2] as string ?? throw new InvalidDataException($"{path}: storage key is not a string");
        if (pid[4] is not long numel || numel < 0)
            throw new InvalidDataException($"{path}: storage '{key}' has no valid element count");
        if (pid.Count > 5 && pid[5] is not null)
            throw new InvalidDataException($"{path}: storage '{key}' is a view of another storage (a pre-1.0 file); re-save it with a current PyTorch");
        return (key, dtype, numel);
    }

    /// <summary>The state dict (tensors by key) and metadata of an unpickled checkpoint object.</summary>
    private static Checkpoint ToCheckpoint(string path, object? root, string? wrapperKey)
    {
        var (stateDict, wrapper) = FindStateDict(path, root, wrapperKey);
        var tensors = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
        var skipped = new List<string>();
        var seen = new HashSet<torch.Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (key, value) in stateDict.Items)
        {
            var name = key as string ?? Convert.ToString(key, CultureInfo.InvariantCulture) ?? "";
            if (value is torch.Tensor t)
            {
                // The same pickled tensor under two keys (tied weights) becomes two handles on one storage,
                // so that disposing one entry does not invalidate the other.
                tensors[name] = seen.Add(t) ? t : t.alias();
            }
            else
            {
                skipped.Add(name);
            }
        }
        foreach (var t in tensors.Values)
            t.DetachFromDisposeScope();

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root is PyDict top && top.TryGet("meta", out var meta) && meta is PyDict metaDict)
        {
            foreach (var (k, v) in metaDict.Items)
                metadata[Convert.ToString(k, CultureInfo.InvariantCulture) ?? ""] = v as string ?? ToJson(v);
        }
        if (wrapper is not null)
            metadata["pth.wrapper"] = wrapper;
        if (skipped.Count > 0)
            metadata["pth.skipped_non_tensors"] = string.Join(",", skipped);
        return new Checkpoint(path, tensors, metadata);
    }

    /// <summary>
    /// Writes a state dict that <c>torch.load</c> reads (also with <c>weights_only=True</c>): a zip (stored, not
    /// compressed) holding a protocol-2 pickle of an <c>OrderedDict</c> of <c>_rebuild_tensor_v2</c> calls, one
    /// storage per tensor. With metadata the file is <c>{'state_dict': ..., 'meta': {str: str}}</c>, the mmcv layout.
    /// Atomic: written to a temporary file and renamed.
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException(".pth writing assumes a little-endian machine");
        foreach (var (name, t) in tensors)
        {
            ArgumentNullException.ThrowIfNull(t, name);
            _ = StorageTypeName(t.dtype);
        }

        var pickle = PickleWriter.StateDict(tensors, metadata is { Count: > 0 } ? metadata : null);
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            WriteEntry(zip, "archive/data.pkl", s => s.Write(pickle));
            WriteEntry(zip, "archive/byteorder", s => s.Write("little"u8));
            var i = 0;
            foreach (var t in tensors.Values)
            {
                var contiguous = DTypes.ContiguousCpu(t);
                try
                {
                    WriteEntry(zip, $"archive/data/{i++}", s => DTypes.WriteFrom(contiguous, s));
                }
                finally
                {
                    if (!ReferenceEquals(contiguous, t))
                        contiguous.Dispose();
                }
            }
            WriteEntry(zip, "archive/version", s => s.Write("3\n"u8));
        });
    }

    internal static string StorageTypeName(torch.ScalarType type)
    {
        foreach (var (name, t) in RestrictedUnpickler.StorageTypes)
        {
            if (t == type && name != "UntypedStorage")
                return name;
        }
        throw new NotSupportedException($"dtype {type} cannot be written to a .pth");
    }

    private static void WriteEntry(ZipArchive zip, string name, Action<Stream> write)
    {
        var entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
        // A fixed timestamp keeps the output a function of the tensors alone.
        entry.LastWriteTime = new DateTimeOffset(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var s = entry.Open();
        write(s);
    }

    private static byte[] ReadAll(string path, ZipArchiveEntry entry)
    {
        if (entry.Length > int.MaxValue)
            throw new InvalidDataException($"{path}: {entry.FullName} is {entry.Length} bytes, too large for a pickle");
        var buffer = new byte[entry.Length];
        using var s = entry.Open();
        try
        {
            s.ReadExactly(buffer);
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException)
        {
            throw new InvalidDataException($"{path}: the archive entry {entry.FullName} is corrupt or truncated", ex);
        }
        return buffer;
    }

    private static PyStorage LoadPersistent(string path, ZipArchive zip, string prefix, PyTuple pid, Dictionary<string, PyStorage> storages)
    {
        // ('storage', <storage type>, key, location, numel)
        if (pid.Count < 5 || pid[0] as string != "storage")
            throw new InvalidDataException($"{path}: persistent id is not a ('storage', type, key, location, numel) tuple");
        if (pid[1] is not PyGlobal type || !RestrictedUnpickler.StorageTypes.TryGetValue(type.Name, out var dtype))
            throw new InvalidDataException($"{path}: unknown storage type {RestrictedUnpickler.Describe(pid[1])}");
        var key = pid[2] as string ?? throw new InvalidDataException($"{path}: storage key is not a string");
        if (storages.TryGetValue(key, out var cached))
            return cached;
        if (pid[4] is not long numel || numel < 0)
            throw new InvalidDataException($"{path}: storage '{key}' has no valid element count");

        var name = prefix + "data/" + key;
        var entry = zip.GetEntry(name) ?? throw new InvalidDataException($"{path}: storage record {name} is missing");
        var bytes = numel * DTypes.Size(dtype);
        if (entry.Length != bytes)
            throw new InvalidDataException($"{path}: storage record {name} is {entry.Length} bytes but {numel} x {dtype} needs {bytes}");
        var flat = torch.empty(numel, dtype: dtype);
        using (var s = entry.Open())
        {
            try
            {
                DTypes.ReadInto(flat, s, bytes);
            }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException)
            {
                throw new InvalidDataException($"{path}: the storage record {name} is corrupt or truncated", ex);
            }
        }
        var storage = new PyStorage(key, flat);
        storages[key] = storage;
        return storage;
    }

    private static (PyDict StateDict, string? Wrapper) FindStateDict(string path, object? root, string? wrapperKey)
    {
        if (root is not PyDict top)
            throw new InvalidDataException($"{path}: top-level object is {RestrictedUnpickler.Describe(root)}, not a dict");
        if (wrapperKey is not null)
        {
            return top.TryGet(wrapperKey, out var chosen) && chosen is PyDict d
                ? (d, wrapperKey)
                : throw new InvalidDataException($"{path}: has no dict under '{wrapperKey}'");
        }
        foreach (var key in WrapperKeys)
        {
            if (top.TryGet(key, out var inner) && inner is PyDict d)
                return (d, key);
        }
        return (top, null);
    }

    /// <summary>JSON for metadata values: containers and scalars as JSON, tensors as a short description.</summary>
    private static string ToJson(object? value)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
            WriteJson(json, value);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteJson(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case string s: json.WriteStringValue(s); break;
            case bool b: json.WriteBooleanValue(b); break;
            case long l: json.WriteNumberValue(l); break;
            case double d when double.IsFinite(d): json.WriteNumberValue(d); break;
            case double d: json.WriteStringValue(d.ToString(CultureInfo.InvariantCulture)); break;
            case BigInteger bi: json.WriteStringValue(bi.ToString(CultureInfo.InvariantCulture)); break;
            case byte[] bytes: json.WriteStringValue(Convert.ToBase64String(bytes)); break;
            case PyTuple t:
                json.WriteStartArray();
                foreach (var item in t.Items)
                    WriteJson(json, item);
                json.WriteEndArray();
                break;
            case List<object?> list:
                json.WriteStartArray();
                foreach (var item in list)
                    WriteJson(json, item);
                json.WriteEndArray();
                break;
            case PyDict dict:
                json.WriteStartObject();
                foreach (var (k, v) in dict.Items)
                {
                    json.WritePropertyName(Convert.ToString(k, CultureInfo.InvariantCulture) ?? "");
                    WriteJson(json, v);
                }
                json.WriteEndObject();
                break;
            default:
                json.WriteStringValue(RestrictedUnpickler.Describe(value));
                break;
        }
    }
}
