using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>
/// One mini-batch. Inputs are images [B,C,H,W]; targets are int64 class ids [B] or float [B,K] (soft or multi-label).
/// The consumer owns it and disposes it (which disposes both tensors).
/// </summary>
public sealed class Batch : IDisposable
{
    /// <summary>Creates a batch that owns both tensors.</summary>
    public Batch(Tensor inputs, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (inputs.shape.Length == 0 || targets.shape.Length == 0 || inputs.shape[0] != targets.shape[0])
            throw new ArgumentException($"Batch inputs {Shape(inputs)} and targets {Shape(targets)} must share the leading batch dimension.");
        Inputs = inputs;
        Targets = targets;
    }

    /// <summary>Images, [B,C,H,W].</summary>
    public Tensor Inputs { get; }
    /// <summary>Class ids int64 [B], or float [B,K].</summary>
    public Tensor Targets { get; }
    /// <summary>B.</summary>
    public long Size => Inputs.shape[0];

    /// <inheritdoc />
    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }

    static string Shape(Tensor t) => "[" + string.Join(",", t.shape) + "]";
}

/// <summary>
/// Supplies batches epoch by epoch. Implementations must be deterministic given (epoch, seed) so that a resumed run
/// sees the same data order as an uninterrupted one.
/// </summary>
public interface IBatchSource
{
    /// <summary>Number of batches <see cref="GetBatches"/> yields per epoch.</summary>
    int BatchCount { get; }

    /// <summary>
    /// The batches of one epoch. <paramref name="seed"/> drives shuffling and augmentation (evaluation sources ignore it).
    /// Each yielded batch is owned, and disposed, by the consumer.
    /// </summary>
    IEnumerable<Batch> GetBatches(int epoch, ulong seed);
}

/// <summary>
/// Rewrites a training batch after it is loaded, e.g. mixup/CutMix (the data library may provide its own). Runs inside the
/// trainer's per-step dispose scope: tensors it creates are freed with the step. Targets it returns are float [B,K].
/// </summary>
public interface IBatchHook
{
    /// <summary>Returns the inputs and targets to train on; <paramref name="rng"/> is seeded deterministically per step.</summary>
    (Tensor Inputs, Tensor Targets) Apply(Tensor inputs, Tensor targets, int numClasses, Random rng);
}

/// <summary>Deterministic 64-bit generator (SplitMix64) whose whole state is one number, so checkpoints can store it.</summary>
public sealed class TrainingRng
{
    /// <summary>Creates a generator from a seed.</summary>
    public TrainingRng(ulong state) => State = state;

    /// <summary>The complete state; assign it to restore.</summary>
    public ulong State { get; set; }

    /// <summary>Next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A <see cref="Random"/> seeded from the next draw (for hooks and augmentations).</summary>
    public Random NextRandom() => new((int)(NextUInt64() & 0x7FFFFFFF));
}
