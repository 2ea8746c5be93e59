namespace VisionRwkv.Text.Generation;

/// <summary>How tokens are drawn; the defaults sample the model's own distribution for up to 200 tokens.</summary>
public sealed record SamplingOptions
{
    /// <summary>Logits are divided by it; 0 (or less) picks the most likely token every time.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Nucleus sampling: keep the most likely tokens whose probabilities add up to at least this (1 keeps all).</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens (0 keeps all).</summary>
    public int TopK { get; init; }

    /// <summary>Subtracted from the logit of every token generated at least once (GPT-3's presence penalty).</summary>
    public double PresencePenalty { get; init; }

    /// <summary>Subtracted from a token's logit once per time it was generated (frequency penalty).</summary>
    public double FrequencyPenalty { get; init; }

    /// <summary>Generation ends before the first occurrence of any of these; the stop string itself is not output.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Tokens that are never drawn.</summary>
    public IReadOnlyList<int> BanTokens { get; init; } = [];

    /// <summary>Seed of the sampler's random numbers: the same seed, model and prompt give the same text. Null: random.</summary>
    public int? Seed { get; init; }

    /// <summary>At most this many new tokens.</summary>
    public int MaxTokens { get; init; } = 200;

    /// <summary>Throws on values outside their range.</summary>
    public void Validate()
    {
        if (double.IsNaN(Temperature)) throw new ArgumentException("temperature is NaN");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p must be in (0, 1], got {TopP}");
        if (TopK < 0) throw new ArgumentException($"top-k must not be negative, got {TopK}");
        if (MaxTokens < 0) throw new ArgumentException($"max tokens must not be negative, got {MaxTokens}");
        if (StopStrings.Any(string.IsNullOrEmpty)) throw new ArgumentException("stop strings must not be empty");
    }
}
