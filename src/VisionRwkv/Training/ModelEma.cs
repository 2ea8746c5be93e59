using System.Runtime.Intrinsics;
using TorchSharp;
using VisionRwkv.Runtime;
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
            if (!shadow.is_floating_point())
                shadow.copy_(src);
            else if (ReferenceOnly || !CpuTensor.FusableElementwise(shadow, src))
                shadow.mul_(d).add_(src, alpha: 1 - d);
            else
                FusedUpdate(shadow, src, (float)d, (float)(1 - d));
        }
    }

    /// <summary>Every tensor takes the op sequence (for tests).</summary>
    internal bool ReferenceOnly { get; init; }


    /// <summary>
    /// shadow = fma(src, 1 - d, shadow·d) in one pass: what mul_(d) then add_(src, alpha) compute in LibTorch's CPU
    /// kernels (scalars rounded to float, the alpha add fused), without two ops and two native Scalars per tensor.
    /// </summary>
    private static unsafe void FusedUpdate(Tensor shadow, Tensor src, float d, float a)
    {
        float* sp = (float*)CpuTensor.Ptr(shadow), xp = (float*)CpuTensor.Ptr(src);
        CpuTensor.ForEachChunk(shadow.numel(), (start, end) =>
        {
            long i = start;
            var (vd, va) = (Vector256.Create(d), Vector256.Create(a));
            for (; i <= end - Vector256<float>.Count; i += Vector256<float>.Count)
                Vector256.FusedMultiplyAdd(Vector256.Load(xp + i), va, Vector256.Load(sp + i) * vd).Store(sp + i);
            for (; i < end; i++)
                sp[i] = MathF.FusedMultiplyAdd(xp[i], a, sp[i] * d);
        });
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
