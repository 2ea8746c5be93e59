using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>
/// Exponential moving average of a model's state (parameters and floating buffers; integer buffers are copied).
/// Stored as detached shadow tensors; <see cref="Apply"/> swaps them into the model for evaluation.
/// </summary>
public sealed class ModelEma : IDisposable
{
    readonly List<(string Name, Tensor Source, Tensor Shadow)> _entries = [];

    /// <summary>Starts the average at the model's current state.</summary>
    public ModelEma(nn.Module model, double decay, bool warmup)
    {
        ArgumentNullException.ThrowIfNull(model);
        Decay = decay;
        Warmup = warmup;
        using var _ = no_grad();
        foreach (var (name, t) in model.state_dict())
            _entries.Add((name, t, t.detach().clone().DetachFromDisposeScope()));
    }

    /// <summary>Target decay per update.</summary>
    public double Decay { get; }
    /// <summary>Whether the decay ramps up as (1+t)/(10+t).</summary>
    public bool Warmup { get; }

    /// <summary>The shadow tensors by state_dict key (owned by this object).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> State => _entries.Select(e => KeyValuePair.Create(e.Name, e.Shadow));

    /// <summary>Decay used after <paramref name="updates"/> optimizer updates.</summary>
    public double DecayAt(long updates) => Warmup ? Math.Min(Decay, (1.0 + updates) / (10.0 + updates)) : Decay;

    /// <summary>shadow = d * shadow + (1 - d) * weights, under no_grad. Call after each optimizer update.</summary>
    public void Update(long updates)
    {
        double d = DecayAt(updates);
        using var _ = no_grad();
        foreach (var (_, src, shadow) in _entries)
        {
            if (shadow.is_floating_point())
                shadow.mul_(d).add_(src, alpha: 1 - d);
            else
                shadow.copy_(src);
        }
    }

    /// <summary>Copies saved shadow values in (by key); throws naming any missing key.</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> state, string source)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var _ = no_grad();
        foreach (var (name, _, shadow) in _entries)
        {
            if (!state.TryGetValue(name, out var t))
                throw new InvalidDataException($"{source}: EMA state lacks '{name}'.");
            shadow.copy_(t);
        }
    }

    /// <summary>Puts the averaged weights into the model until the returned handle is disposed, which restores the originals.</summary>
    public IDisposable Apply()
    {
        var backup = new List<Tensor>(_entries.Count);
        using (no_grad())
        {
            foreach (var (_, src, shadow) in _entries)
            {
                backup.Add(src.detach().clone().DetachFromDisposeScope());
                src.copy_(shadow);
            }
        }
        return new Restore(this, backup);
    }

    sealed class Restore(ModelEma owner, List<Tensor> backup) : IDisposable
    {
        bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            using (no_grad())
            {
                for (int i = 0; i < backup.Count; i++)
                {
                    owner._entries[i].Source.copy_(backup[i]);
                    backup[i].Dispose();
                }
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var e in _entries) e.Shadow.Dispose();
        _entries.Clear();
    }
}
