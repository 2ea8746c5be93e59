using VisionRwkv.Runtime;

namespace VisionRwkv.Training;

/// <summary>Things a run needs that are not part of its spec: where progress and notes go, and a cancellation token.</summary>
public sealed record RunOptions
{
    /// <summary>Progress of the training loop (progress bars, log lines); none when null.</summary>
    public ITrainingReporter? Reporter { get; init; }
    /// <summary>One-line notes about the run (model, data, weights loaded); none when null.</summary>
    public TextWriter? Log { get; init; }
    /// <summary>Draw the PNG plots at the end.</summary>
    public bool WritePlots { get; init; } = true;
    /// <summary>Which fused CUDA kernels may run.</summary>
    public KernelOptions Kernels { get; init; } = KernelOptions.Default;
}
