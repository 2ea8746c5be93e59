namespace VisionRwkv.Text.Generation;

/// <summary>
/// Draws the next token from a row of logits: penalties for tokens already generated (ChatRWKV's
/// <c>out[n] -= alpha_presence + count·alpha_frequency</c>), banned tokens removed, temperature, top-k, top-p, then
/// one draw from the renormalised distribution. Runs on the CPU in float64 (one row per token is small).
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly Random _random;
    private readonly Dictionary<int, int> _counts = [];

    public Sampler(SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _random = options.Seed is int s ? new Random(s) : new Random();
    }

    /// <summary>How often each token was drawn so far (what the penalties count).</summary>
    public IReadOnlyDictionary<int, int> Counts => _counts;

    /// <summary>Picks a token from <paramref name="logits"/> [V] and counts it.</summary>
    public int Next(ReadOnlySpan<float> logits)
    {
        var z = new double[logits.Length];
        for (int i = 0; i < z.Length; i++) z[i] = logits[i];
        foreach (var (token, count) in _counts)
            if ((uint)token < (uint)z.Length) z[token] -= _options.PresencePenalty + count * _options.FrequencyPenalty;
        foreach (var token in _options.BanTokens)
            if ((uint)token < (uint)z.Length) z[token] = double.NegativeInfinity;
        int next = Draw(z);
        _counts[next] = _counts.GetValueOrDefault(next) + 1;
        return next;
    }

    private int Draw(double[] z)
    {
        int best = 0;
        for (int i = 1; i < z.Length; i++) if (z[i] > z[best]) best = i;
        if (double.IsNegativeInfinity(z[best])) throw new InvalidOperationException("every token is banned");
        if (_options.Temperature <= 0) return best;

        // Softmax of z / T, shifted by the maximum.
        var p = new double[z.Length];
        double sum = 0;
        for (int i = 0; i < z.Length; i++) sum += p[i] = Math.Exp((z[i] - z[best]) / _options.Temperature);
        for (int i = 0; i < p.Length; i++) p[i] /= sum;

        if (_options.TopK > 0 || _options.TopP < 1)
        {
            var order = Enumerable.Range(0, p.Length).ToArray();
            Array.Sort(order, (a, b) => p[b].CompareTo(p[a]) != 0 ? p[b].CompareTo(p[a]) : a.CompareTo(b));
            int keep = _options.TopK > 0 ? Math.Min(_options.TopK, p.Length) : p.Length;
            double cumulative = 0;
            for (int r = 0; r < keep; r++)
            {
                cumulative += p[order[r]];
                if (cumulative >= _options.TopP) { keep = r + 1; break; }   // the smallest set reaching top-p
            }
            for (int r = keep; r < order.Length; r++) p[order[r]] = 0;
        }
        double total = p.Sum();
        double u = _random.NextDouble() * total;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] == 0) continue;
            u -= p[i];
            if (u < 0) return i;
        }
        return best;                                                             // rounding left u ≥ 0: the mode
    }
}
