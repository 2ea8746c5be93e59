using System.Buffers.Binary;
using System.Text;
using TorchSharp;

namespace VisionRwkv.Checkpoints;

/// <summary>
/// Writes the protocol-2 pickle of a state dict exactly as <c>torch.save</c> lays it out, using only opcodes and
/// globals that PyTorch's <c>weights_only</c> loader accepts. Tensor i points at storage record <c>data/i</c>.
/// </summary>
internal static class PickleWriter
{
    public static byte[] StateDict(IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        ms.Write([0x80, 2]); // PROTO 2
        if (metadata is not null)
        {
            ms.WriteByte((byte)'}'); // EMPTY_DICT
            ms.WriteByte((byte)'('); // MARK
            String(ms, "state_dict");
            OrderedDict(ms, tensors);
            String(ms, "meta");
            ms.WriteByte((byte)'}');
            ms.WriteByte((byte)'(');
            foreach (var (k, v) in metadata)
            {
                String(ms, k);
                String(ms, v);
            }
            ms.WriteByte((byte)'u'); // SETITEMS
            ms.WriteByte((byte)'u');
        }
        else
        {
            OrderedDict(ms, tensors);
        }
        ms.WriteByte((byte)'.'); // STOP
        return ms.ToArray();
    }

    private static void OrderedDict(MemoryStream ms, IReadOnlyDictionary<string, torch.Tensor> tensors)
    {
        EmptyOrderedDict(ms);
        ms.WriteByte((byte)'(');
        var i = 0;
        foreach (var (name, t) in tensors)
        {
            String(ms, name);
            Tensor(ms, t, i++);
        }
        ms.WriteByte((byte)'u');
    }

    private static void EmptyOrderedDict(MemoryStream ms)
    {
        Global(ms, "collections", "OrderedDict");
        ms.WriteByte((byte)')'); // EMPTY_TUPLE
        ms.WriteByte((byte)'R'); // REDUCE
    }

    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
    private static void Tensor(MemoryStream ms, torch.Tensor t, int storageIndex)
    {
        Global(ms, "torch._utils", "_rebuild_tensor_v2");
        ms.WriteByte((byte)'(');

        // persistent id ('storage', torch.<Type>Storage, key, location, numel)
        ms.WriteByte((byte)'(');
        String(ms, "storage");
        Global(ms, "torch", Pth.StorageTypeName(t.dtype));
        String(ms, storageIndex.ToString(System.Globalization.CultureInfo.InvariantCulture));
        String(ms, "cpu");
        Int(ms, t.numel());
        ms.WriteByte((byte)'t'); // TUPLE
        ms.WriteByte((byte)'Q'); // BINPERSID

        Int(ms, 0);
        var shape = t.shape;
        ms.WriteByte((byte)'(');
        foreach (var d in shape)
            Int(ms, d);
        ms.WriteByte((byte)'t');
        // Row-major strides of the contiguous copy that data/i holds.
        var stride = new long[shape.Length];
        long s = 1;
        for (var d = shape.Length - 1; d >= 0; d--)
        {
            stride[d] = s;
            s *= Math.Max(shape[d], 1);
        }
        ms.WriteByte((byte)'(');
        foreach (var d in stride)
            Int(ms, d);
        ms.WriteByte((byte)'t');
        ms.WriteByte(0x89); // NEWFALSE: requires_grad
        EmptyOrderedDict(ms); // backward_hooks
        ms.WriteByte((byte)'t');
        ms.WriteByte((byte)'R');
    }

    private static void Global(MemoryStream ms, string module, string name)
    {
        ms.WriteByte((byte)'c');
        ms.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    private static void String(MemoryStream ms, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)bytes.Length);
        ms.WriteByte((byte)'X'); // BINUNICODE
        ms.Write(len);
        ms.Write(bytes);
    }

    private static void Int(MemoryStream ms, long v)
    {
        if (v is >= 0 and < 256)
        {
            ms.WriteByte((byte)'K'); // BININT1
            ms.WriteByte((byte)v);
        }
        else if (v is >= int.MinValue and <= int.MaxValue)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            ms.WriteByte((byte)'J'); // BININT
            ms.Write(b);
        }
        else
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, v);
            ms.WriteByte(0x8a); // LONG1, 8 bytes two's complement
            ms.WriteByte(8);
            ms.Write(b);
        }
    }
}
