namespace VisionRwkv.Tests.Wkv;

/// <summary>
/// O(T²) float64 evaluations of the WKV formulas, straight from the definitions, in plain loops (no TorchSharp).
/// Arrays are [B,T,C] row-major; w, u are [C]. Each output subtracts its largest logit before exp, so extreme
/// inputs stay finite here too.
/// </summary>
internal static class WkvBruteForce
{
    /// <summary>y_t = Σ_i e^{λ_{t,i}} v_i / Σ_i e^{λ_{t,i}} with λ_{t,i} = k_i - (|t-i|-1)w (i≠t), λ_{t,t} = u + k_t.</summary>
    public static double[] Bidirectional(double[] k, double[] v, double[] w, double[] u, int B, int T, int C) =>
        Mix(k, v, B, T, C, (t, i, c, ki) => i == t ? u[c] + ki : ki - (Math.Abs(t - i) - 1) * w[c], null);

    /// <summary>
    /// Causal: λ_{t,i} = k_i - (t-1-i)w for i &lt; t, u + k_t for i = t; an initial state (num, den, maxLog) per [B,C]
    /// adds e^{maxLog - t·w}·(num, den) as if it summed the tokens before t = 0.
    /// </summary>
    public static double[] Causal(double[] k, double[] v, double[] w, double[] u, int B, int T, int C,
        (double[] Num, double[] Den, double[] MaxLog)? state = null) =>
        Mix(k, v, B, T, C, (t, i, c, ki) => i > t ? double.NaN : i == t ? u[c] + ki : ki - (t - 1 - i) * w[c], state is null
            ? null
            : (b, t, c) => (state.Value.MaxLog[b * C + c] - t * w[c], state.Value.Num[b * C + c], state.Value.Den[b * C + c]));

    /// <summary>
    /// The old official kernel (vision-rwkv.md §1.6): y_t = Σ_j f(t,j) e^{k_j} v_j / (Σ_j f(t,j) e^{k_j} + 1e-6·e^{m_t})
    /// with L = ceil(T/32), s0 = L·floor(t/L) and f as documented there; m_t = max_j k_j + the largest f-exponent is
    /// approximated here by max(k_j - |t-j|w, u + k_t) (the epsilon term is ~1e-6 relative either way).
    /// </summary>
    public static double[] OldKernel(double[] k, double[] v, double[] w, double[] u, int B, int T, int C)
    {
        int L = (T + 31) / 32;
        var y = new double[B * T * C];
        for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
        for (int t = 0; t < T; t++)
        {
            double W = w[c];
            int s0 = L * (t / L);
            double m = double.NegativeInfinity;
            for (int j = 0; j < T; j++)
                m = Math.Max(m, j == t ? u[c] + K(j) : K(j) - Math.Abs(t - j) * W);
            double num = 0, den = 0;
            for (int j = 0; j < T; j++)
            {
                double f;
                if (j > t) f = Math.Exp(-W * (j - t));
                else if (j < s0) f = Math.Exp(-W * (t - j));
                else if (j < t) f = Math.Exp(-W * (t - 1 - j)) + (j > s0 ? Math.Exp(W * (t - j)) * (1 - Math.Exp(W)) : 0);
                else f = Math.Exp(u[c]) + (t > s0 ? 1 - Math.Exp(W) : 0);
                double e = f * Math.Exp(K(j) - m);
                num += e * v[(b * T + j) * C + c];
                den += e;
            }
            y[(b * T + t) * C + c] = num / (den + 1e-6);

            double K(int j) => k[(b * T + j) * C + c];
        }
        return y;
    }

    /// <summary>Shared O(T²) loop: logitOf(t, i, c, k_i) gives λ_{t,i} or NaN when token i is excluded.</summary>
    private static double[] Mix(double[] k, double[] v, int B, int T, int C, Func<int, int, int, double, double> logitOf,
        Func<int, int, int, (double Log, double Num, double Den)>? extra)
    {
        var y = new double[B * T * C];
        var logits = new double[T];
        for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
        for (int t = 0; t < T; t++)
        {
            double m = double.NegativeInfinity;
            for (int i = 0; i < T; i++)
            {
                logits[i] = logitOf(t, i, c, k[(b * T + i) * C + c]);
                if (!double.IsNaN(logits[i])) m = Math.Max(m, logits[i]);
            }
            var s = extra?.Invoke(b, t, c) ?? (double.NegativeInfinity, 0, 0);
            bool hasState = s.Den > 0 || s.Num != 0;
            if (hasState) m = Math.Max(m, s.Log);
            double num = hasState ? Math.Exp(s.Log - m) * s.Num : 0;
            double den = hasState ? Math.Exp(s.Log - m) * s.Den : 0;
            for (int i = 0; i < T; i++)
            {
                if (double.IsNaN(logits[i])) continue;
                double e = Math.Exp(logits[i] - m);
                num += e * v[(b * T + i) * C + c];
                den += e;
            }
            y[(b * T + t) * C + c] = num / den;
        }
        return y;
    }
}
