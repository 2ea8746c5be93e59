namespace VisionRwkv.Training;

/// <summary>
/// Cosine learning-rate schedule with linear warm-up, evaluated per optimizer update as a pure function of the update
/// index, so resuming only needs the step counter.
/// </summary>
/// <param name="BaseLr">Peak learning rate, reached at the end of warm-up.</param>
/// <param name="MinLr">Learning rate at the last update.</param>
/// <param name="WarmupSteps">Updates of linear warm-up.</param>
/// <param name="TotalSteps">Updates in the whole run.</param>
/// <param name="WarmupStartLr">Learning rate of update 0 when there is warm-up.</param>
public sealed record LrSchedule(double BaseLr, double MinLr, long WarmupSteps, long TotalSteps, double WarmupStartLr)
{
    /// <summary>Builds the schedule a config implies for a source with <paramref name="updatesPerEpoch"/> updates per epoch.</summary>
    public static LrSchedule FromConfig(TrainConfig config, long updatesPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(updatesPerEpoch, 1);
        long total = config.Epochs * updatesPerEpoch;
        long warmup = config.WarmupSteps > 0 ? config.WarmupSteps : (long)Math.Round(config.WarmupEpochs * updatesPerEpoch);
        warmup = Math.Min(warmup, total);
        return new LrSchedule(config.LearningRate, config.LearningRate * config.MinLrRatio, warmup, total,
            config.LearningRate * config.WarmupStartRatio);
    }

    /// <summary>Learning rate of update <paramref name="step"/> (0-based). Steps past the end stay at <see cref="MinLr"/>.</summary>
    public double At(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "Update index must be >= 0.");
        if (step < WarmupSteps)
            return WarmupStartLr + (BaseLr - WarmupStartLr) * step / WarmupSteps;
        if (step >= TotalSteps)
            return MinLr;
        // As in mmcv/timm: progress = elapsed / length of the cosine phase, so the last update is just above MinLr.
        double progress = (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps);
        return MinLr + (BaseLr - MinLr) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
