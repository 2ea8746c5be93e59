using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using TorchSharp;

namespace VisionRwkv.Checkpoints;

/// <summary>
/// A pickle reader that never executes anything. It understands the opcodes of protocols 0-5 that state dicts use,
/// and the only callables it will "call" are rebuilt here by hand: tensor and parameter rebuilding, OrderedDict and
/// latin-1 bytes. Any other global (<c>os.system</c>, <c>builtins.eval</c>, ...) is refused the moment the pickle
/// names it, so a malicious file fails before anything could happen.
/// </summary>
internal sealed class RestrictedUnpickler
{
    /// <summary>Storage type names (<c>torch.FloatStorage</c>, ...) and the element type each holds.</summary>
    internal static readonly IReadOnlyDictionary<string, torch.ScalarType> StorageTypes = new Dictionary<string, torch.ScalarType>(StringComparer.Ordinal)
    {
        ["FloatStorage"] = torch.ScalarType.Float32,
        ["DoubleStorage"] = torch.ScalarType.Float64,
        ["HalfStorage"] = torch.ScalarType.Float16,
        ["BFloat16Storage"] = torch.ScalarType.BFloat16,
        ["LongStorage"] = torch.ScalarType.Int64,
        ["IntStorage"] = torch.ScalarType.Int32,
        ["ShortStorage"] = torch.ScalarType.Int16,
        ["CharStorage"] = torch.ScalarType.Int8,
        ["ByteStorage"] = torch.ScalarType.Byte,
        ["BoolStorage"] = torch.ScalarType.Bool,
        ["UntypedStorage"] = torch.ScalarType.Byte,
    };

    private static readonly HashSet<string> Callables = new(StringComparer.Ordinal)
    {
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "collections.OrderedDict",
        // Protocol 2 pickles a Python 3 bytes object as _codecs.encode(text, 'latin1'): pure data, no side effects.
        "_codecs.encode",
    };

    private static readonly object Mark = new();

    private readonly string file;
    private readonly byte[] data;
    private readonly Func<PyTuple, PyStorage> persistentLoad;
    private readonly List<object?> stack = [];
    private readonly Stack<List<object?>> marks = new();
    private readonly Dictionary<long, object?> memo = [];
    private int pos;
    private List<object?> current;

    public RestrictedUnpickler(string file, byte[] data, Func<PyTuple, PyStorage> persistentLoad, int start = 0)
    {
        this.file = file;
        this.data = data;
        this.persistentLoad = persistentLoad;
        pos = start;
        current = stack;
    }

    /// <summary>The byte after the STOP opcode once <see cref="Load"/> returned: where a following pickle starts.</summary>
    public int Position => pos;

    /// <summary>Describes a Python value briefly for error messages.</summary>
    public static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"'{s}'",
        PyTuple t => $"tuple of {t.Count}",
        PyDict d => $"dict of {d.Items.Count}",
        List<object?> l => $"list of {l.Count}",
        torch.Tensor t => $"tensor {t.dtype} [{string.Join(", ", t.shape)}]",
        _ => value.GetType().Name,
    };

    public object? Load()
    {
        while (true)
        {
            var at = pos;
            var op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    var proto = ReadByte();
                    if (proto > 5)
                        throw Bad($"pickle protocol {proto} is newer than 5");
                    break;
                case 0x95: // FRAME: a length hint; the framed opcodes follow inline
                    Take(8);
                    break;
                case (byte)'.': // STOP
                    if (current.Count != 1 || marks.Count != 0)
                        throw Bad($"pickle ended with {current.Count} values on the stack");
                    return current[0];
                case (byte)'(': // MARK
                    marks.Push(current);
                    current = [];
                    break;
                case (byte)'0': // POP
                    if (current.Count > 0)
                        current.RemoveAt(current.Count - 1);
                    else
                        PopMark();
                    break;
                case (byte)'1': // POP_MARK
                    PopMark();
                    break;
                case (byte)'2': // DUP
                    Push(Peek());
                    break;

                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case (byte)'K': Push((long)ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case 0x8a: Push(ReadLong(ReadByte())); break; // LONG1
                case 0x8b: Push(ReadLong(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break; // LONG4
                case (byte)'I': Push(ParseIntLine(ReadLine())); break; // INT (protocol 0; "01"/"00" are True/False)
                case (byte)'L': Push(ParseLongLine(ReadLine())); break; // LONG (protocol 0)
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT is big-endian
                case (byte)'F': Push(double.Parse(ReadLine(), CultureInfo.InvariantCulture)); break; // FLOAT

                case (byte)'X': Push(Utf8(Take(ReadLength(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))))); break; // BINUNICODE
                case 0x8c: Push(Utf8(Take(ReadByte()))); break; // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(Take(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)))))); break; // BINUNICODE8
                case (byte)'T': Push(Encoding.Latin1.GetString(Take(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))))); break; // BINSTRING
                case (byte)'U': Push(Encoding.Latin1.GetString(Take(ReadByte()))); break; // SHORT_BINSTRING
                case (byte)'V': Push(RawUnicodeEscape(ReadLineBytes())); break; // UNICODE (protocol 0)
                case (byte)'B': Push(Take(ReadLength(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))).ToArray()); break; // BINBYTES
                case (byte)'C': Push(Take(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case 0x8e: // BINBYTES8
                case 0x96: // BYTEARRAY8
                    Push(Take(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)))).ToArray());
                    break;

                case (byte)')': Push(new PyTuple([])); break; // EMPTY_TUPLE
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)'}': Push(new PyDict()); break; // EMPTY_DICT
                case (byte)'t': Push(new PyTuple(PopMark().ToArray())); break; // TUPLE
                case 0x85: Push(new PyTuple([Pop()])); break; // TUPLE1
                case 0x86: // TUPLE2
                {
                    var b = Pop();
                    var a = Pop();
                    Push(new PyTuple([a, b]));
                    break;
                }
                case 0x87: // TUPLE3
                {
                    var c = Pop();
                    var b = Pop();
                    var a = Pop();
                    Push(new PyTuple([a, b, c]));
                    break;
                }
                case (byte)'l': Push(PopMark()); break; // LIST
                case (byte)'d': // DICT
                {
                    var items = PopMark();
                    var dict = new PyDict();
                    SetItems(dict, items);
                    Push(dict);
                    break;
                }
                case (byte)'a': // APPEND
                {
                    var item = Pop();
                    AsList(Peek()).Add(item);
                    break;
                }
                case (byte)'e': // APPENDS
                {
                    var items = PopMark();
                    AsList(Peek()).AddRange(items);
                    break;
                }
                case (byte)'s': // SETITEM
                {
                    var value = Pop();
                    var key = Pop();
                    AsDict(Peek()).Set(Key(key), value);
                    break;
                }
                case (byte)'u': // SETITEMS
                {
                    var items = PopMark();
                    SetItems(AsDict(Peek()), items);
                    break;
                }

                case (byte)'q': memo[ReadByte()] = Peek(); break; // BINPUT
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(); break; // LONG_BINPUT
                case 0x94: memo[memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'p': memo[ParseLongLine(ReadLine()) is long pk ? pk : throw Bad("PUT index too large")] = Peek(); break;
                case (byte)'h': Push(Recall(ReadByte())); break; // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET
                case (byte)'g': Push(Recall(ParseLongLine(ReadLine()) is long gk ? gk : throw Bad("GET index too large"))); break;

                case (byte)'c': // GLOBAL
                {
                    var module = ReadLine();
                    var name = ReadLine();
                    Push(ResolveGlobal(module, name));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Bad("STACK_GLOBAL name is not a string");
                    var module = Pop() as string ?? throw Bad("STACK_GLOBAL module is not a string");
                    Push(ResolveGlobal(module, name));
                    break;
                }
                case (byte)'R': // REDUCE
                {
                    var args = Pop() as PyTuple ?? throw Bad("REDUCE arguments are not a tuple");
                    var callable = Pop() as PyGlobal ?? throw Bad("REDUCE target is not a global");
                    Push(Call(callable, args));
                    break;
                }
                case (byte)'b': // BUILD
                {
                    var state = Pop();
                    Build(Peek(), state);
                    break;
                }
                case (byte)'Q': // BINPERSID
                {
                    var pid = Pop() as PyTuple ?? throw Bad("persistent id is not a tuple");
                    Push(persistentLoad(pid));
                    break;
                }

                case (byte)'i': // INST
                case (byte)'o': // OBJ
                case 0x81: // NEWOBJ
                case 0x92: // NEWOBJ_EX
                    throw Bad($"refusing pickle opcode 0x{op:x2} at byte {at}: it instantiates arbitrary classes; only tensors and plain containers are allowed");
                default:
                    throw Bad($"unsupported pickle opcode 0x{op:x2} ('{(char)op}') at byte {at}");
            }
        }
    }

    private PyGlobal ResolveGlobal(string module, string name)
    {
        var g = new PyGlobal(module, name);
        var full = g.ToString();
        if (Callables.Contains(full))
            return g;
        if (module == "torch" && StorageTypes.ContainsKey(name))
            return g;
        if (module == "torch.storage" && name == "UntypedStorage")
            return g;
        throw Bad($"refusing to load '{full}': only tensors and plain containers are allowed");
    }

    private object? Call(PyGlobal callable, PyTuple args)
    {
        switch (callable.ToString())
        {
            case "collections.OrderedDict":
                var dict = new PyDict();
                if (args.Count == 1 && args[0] is List<object?> pairs)
                {
                    foreach (var p in pairs)
                    {
                        if (p is not PyTuple { Count: 2 } kv)
                            throw Bad("OrderedDict argument is not a list of pairs");
                        dict.Set(Key(kv[0]), kv[1]);
                    }
                }
                else if (args.Count != 0)
                {
                    throw Bad($"OrderedDict called with {args.Count} arguments");
                }
                return dict;
            case "_codecs.encode":
                if (args.Count != 2 || args[0] is not string text || args[1] is not string enc
                    || !(enc.Equals("latin1", StringComparison.OrdinalIgnoreCase) || enc.Equals("latin-1", StringComparison.OrdinalIgnoreCase)))
                    throw Bad("_codecs.encode is only accepted as (str, 'latin1')");
                return Encoding.Latin1.GetBytes(text);
            case "torch._utils._rebuild_tensor_v2":
            case "torch._utils._rebuild_tensor":
                if (args.Count < 4)
                    throw Bad($"{callable} called with {args.Count} arguments");
                return RebuildTensor(args[0], args[1], args[2], args[3]);
            case "torch._utils._rebuild_parameter":
            case "torch._utils._rebuild_parameter_with_state":
                if (args.Count < 3 || args[0] is not torch.Tensor data)
                    throw Bad($"{callable} expects a tensor first");
                return data;
            default:
                throw Bad($"refusing to call '{callable}': only tensors and plain containers are allowed");
        }
    }

    private torch.Tensor RebuildTensor(object? storageArg, object? offsetArg, object? sizeArg, object? strideArg)
    {
        var storage = storageArg as PyStorage ?? throw Bad($"tensor storage is {Describe(storageArg)}, not a storage");
        var offset = AsLong(offsetArg, "storage offset");
        var size = AsLongs(sizeArg, "size");
        var stride = AsLongs(strideArg, "stride");
        if (size.Length != stride.Length)
            throw Bad($"tensor size has {size.Length} dims but stride has {stride.Length}");

        // Check that every element the view reaches lies inside the storage before asking LibTorch for it.
        var storageNumel = storage.Flat.numel();
        if (offset < 0 || size.Any(s => s < 0) || stride.Any(s => s < 0))
            throw Bad($"tensor in storage '{storage.Key}' has a negative offset, size or stride");
        if (!size.Contains(0))
        {
            var last = offset;
            for (var i = 0; i < size.Length; i++)
                last += (size[i] - 1) * stride[i];
            if (last >= storageNumel)
                throw Bad($"tensor [{string.Join(", ", size)}] with stride ({string.Join(", ", stride)}) at offset {offset} reaches element {last} of storage '{storage.Key}', which has {storageNumel}");
        }
        // as_strided honours the original layout (a saved transpose stays a transpose); contiguous() then gives the
        // caller a plain row-major tensor, copying only when the layout was not already row-major.
        using var view = storage.Flat.as_strided(size, stride, offset);
        return view.contiguous();
    }

    private void Build(object? target, object? state)
    {
        if (target is PyDict dict)
        {
            // An OrderedDict state_dict pickles its attributes (_metadata) as a dict, sometimes as (dict, slots).
            var attrs = state is PyTuple { Count: 2 } t ? t[0] : state;
            if (attrs is PyDict a)
            {
                foreach (var (k, v) in a.Items)
                    dict.Attributes[k.ToString() ?? ""] = v;
            }
            return;
        }
        if (target is torch.Tensor)
            return; // tensor state (a Parameter's extra attributes) carries nothing we use
        throw Bad($"BUILD on {Describe(target)} is not supported");
    }

    private void SetItems(PyDict dict, List<object?> items)
    {
        if (items.Count % 2 != 0)
            throw Bad("SETITEMS with an odd number of values");
        for (var i = 0; i < items.Count; i += 2)
            dict.Set(Key(items[i]), items[i + 1]);
    }

    private object Key(object? key) => key switch
    {
        string or long or bool or double or BigInteger => key,
        null => throw Bad("dict key None is not supported"),
        _ => throw Bad($"dict key of type {Describe(key)} is not supported"),
    };

    private long AsLong(object? value, string what) => value is long l ? l : throw Bad($"tensor {what} is {Describe(value)}, not an integer");

    private long[] AsLongs(object? value, string what)
    {
        if (value is not PyTuple t)
            throw Bad($"tensor {what} is {Describe(value)}, not a tuple");
        return t.Items.Select(x => AsLong(x, what)).ToArray();
    }

    private List<object?> AsList(object? value) => value as List<object?> ?? throw Bad($"APPEND to {Describe(value)}, not a list");

    private PyDict AsDict(object? value) => value as PyDict ?? throw Bad($"SETITEM on {Describe(value)}, not a dict");

    private object? Recall(long key) => memo.TryGetValue(key, out var v) ? v : throw Bad($"memo entry {key} is missing");

    private void Push(object? value) => current.Add(value);

    private object? Peek() => current.Count > 0 ? current[^1] : throw Bad("stack underflow");

    private object? Pop()
    {
        if (current.Count == 0)
            throw Bad("stack underflow");
        var v = current[^1];
        current.RemoveAt(current.Count - 1);
        return v;
    }

    private List<object?> PopMark()
    {
        if (marks.Count == 0)
            throw Bad("MARK expected but missing");
        var items = current;
        current = marks.Pop();
        return items;
    }

    private byte ReadByte()
    {
        if (pos >= data.Length)
            throw Bad("pickle data ends without STOP");
        return data[pos++];
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || pos + n > data.Length)
            throw Bad($"pickle data ends inside a {n}-byte value at byte {pos}");
        var span = data.AsSpan(pos, n);
        pos += n;
        return span;
    }

    private int ReadLength(long n) => n >= 0 && n <= data.Length - pos ? (int)n : throw Bad($"length {n} at byte {pos} runs past the pickle data");

    private int ReadLength(ulong n) => n <= (ulong)(data.Length - pos) ? (int)n : throw Bad($"length {n} at byte {pos} runs past the pickle data");

    private string ReadLine() => Encoding.UTF8.GetString(ReadLineBytes());

    private ReadOnlySpan<byte> ReadLineBytes()
    {
        var end = Array.IndexOf(data, (byte)'\n', pos);
        if (end < 0)
            throw Bad("pickle data ends inside a text line");
        var line = data.AsSpan(pos, end - pos);
        pos = end + 1;
        return line;
    }

    /// <summary>Python's raw-unicode-escape: bytes are Latin-1 code points, except <c>\uXXXX</c> and <c>\UXXXXXXXX</c>.</summary>
    private string RawUnicodeEscape(ReadOnlySpan<byte> line)
    {
        var sb = new StringBuilder(line.Length);
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == '\\' && i + 1 < line.Length && (line[i + 1] == 'u' || line[i + 1] == 'U'))
            {
                var digits = line[i + 1] == 'u' ? 4 : 8;
                if (i + 2 + digits > line.Length
                    || !int.TryParse(Encoding.ASCII.GetString(line.Slice(i + 2, digits)), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var cp))
                    throw Bad("bad \\u escape in a protocol-0 string");
                sb.Append(char.ConvertFromUtf32(cp));
                i += 1 + digits;
            }
            else
            {
                sb.Append((char)line[i]);
            }
        }
        return sb.ToString();
    }

    private static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    private object ReadLong(int n)
    {
        if (n == 0)
            return 0L;
        var v = new BigInteger(Take(n), isUnsigned: false, isBigEndian: false);
        return v >= long.MinValue && v <= long.MaxValue ? (object)(long)v : v;
    }

    private object ParseIntLine(string line) => line switch
    {
        "01" => true,
        "00" => false,
        _ => ParseLongLine(line),
    };

    private object ParseLongLine(string line)
    {
        var text = line.TrimEnd('L');
        if (!BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
            throw Bad($"'{line}' is not an integer");
        return v >= long.MinValue && v <= long.MaxValue ? (object)(long)v : v;
    }

    private InvalidDataException Bad(string problem) => new($"{file}: {problem}");
}
