using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Text.Gpt;

/// <summary>
/// The GPT's key/value cache: per layer, keys and values [B,H,capacity,D] of every token seen, so that a new token
/// attends to its past without recomputing it. It grows with the context (that is the Transformer's memory cost in
/// generation); capacity doubles when full. Steps update it in place and return the same object.
/// </summary>
public sealed class GptKvCache : ILanguageModelState
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    public GptKvCache(int layers, long batch, int heads, int headDim, long capacity, ScalarType dtype, Device device)
    {
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        for (int i = 0; i < layers; i++)
        {
            _keys[i] = empty(batch, heads, Math.Max(1, capacity), headDim, dtype, device).DetachFromDisposeScope();
            _values[i] = empty(batch, heads, Math.Max(1, capacity), headDim, dtype, device).DetachFromDisposeScope();
        }
    }

    /// <summary>Tokens already in the cache.</summary>
    public long Tokens { get; private set; }

    public long Capacity => _keys[0].shape[2];

    /// <summary>Bytes of the filled part (2·L·B·H·tokens·D elements).</summary>
    public long Bytes => _keys.Sum(k => 2 * k.shape[0] * k.shape[1] * Tokens * k.shape[3] * k.element_size());

    /// <summary>
    /// Writes layer <paramref name="layer"/>'s keys and values for T new tokens (each [B,H,T,D]) after the cached
    /// ones and returns views of all keys and values so far, [B,H,Tokens+T,D]. Call <see cref="Advance"/> once all
    /// layers have appended.
    /// </summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2], needed = Tokens + t;
        if (needed > Capacity) Grow(Math.Max(needed, 2 * Capacity));
        _keys[layer].narrow(2, Tokens, t).copy_(k);
        _values[layer].narrow(2, Tokens, t).copy_(v);
        return (_keys[layer].narrow(2, 0, needed), _values[layer].narrow(2, 0, needed));
    }

    internal void Advance(long t) => Tokens += t;

    /// <summary>[n_layer, 2, B, H, T, D] float32: keys (0) and values (1) of every cached token.</summary>
    public Tensor ToTensor()
    {
        using var scope = NewDisposeScope();
        var layers = _keys.Select((k, i) => stack([k.narrow(2, 0, Tokens), _values[i].narrow(2, 0, Tokens)])).ToArray();
        return stack(layers).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    private void Grow(long capacity)
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i] = Regrow(_keys[i], capacity);
            _values[i] = Regrow(_values[i], capacity);
        }
    }

    private Tensor Regrow(Tensor old, long capacity)
    {
        var bigger = empty(old.shape[0], old.shape[1], capacity, old.shape[3], old.dtype, old.device).DetachFromDisposeScope();
        if (Tokens > 0) bigger.narrow(2, 0, Tokens).copy_(old.narrow(2, 0, Tokens));
        old.Dispose();
        return bigger;
    }

    /// <summary>The cache lives outside dispose scopes already (it is updated in place); nothing to move.</summary>
    public ILanguageModelState MoveToOuterDisposeScope() => this;

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t.Dispose();
    }
}
