namespace VisionRwkv.Checkpoints;

/// <summary>A Python global (<c>module.name</c>) named by a pickle; only an allowlisted few are ever accepted.</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A Python tuple (immutable sequence), kept distinct from a list.</summary>
internal sealed class PyTuple(object?[] items)
{
    public object?[] Items { get; } = items;

    public int Count => Items.Length;

    public object? this[int i] => Items[i];
}

/// <summary>
/// A Python dict or <c>collections.OrderedDict</c>, in insertion order. Keys are strings, integers, booleans or tuples
/// of those (what state dicts and optimizer states use). <see cref="Attributes"/> keeps what a BUILD set on the
/// object (an OrderedDict state_dict carries <c>_metadata</c> that way).
/// </summary>
internal sealed class PyDict
{
    private readonly Dictionary<object, int> index = [];

    public List<KeyValuePair<object, object?>> Items { get; } = [];

    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);

    public void Set(object key, object? value)
    {
        if (index.TryGetValue(key, out var i))
        {
            Items[i] = new(key, value);
            return;
        }
        index[key] = Items.Count;
        Items.Add(new(key, value));
    }

    public bool TryGet(object key, out object? value)
    {
        if (index.TryGetValue(key, out var i))
        {
            value = Items[i].Value;
            return true;
        }
        value = null;
        return false;
    }
}

/// <summary>A typed storage that a tensor is a view of: a flat CPU tensor of the storage's element type.</summary>
internal sealed record PyStorage(string Key, TorchSharp.torch.Tensor Flat);
