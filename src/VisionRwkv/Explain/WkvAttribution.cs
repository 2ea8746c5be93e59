using TorchSharp;
using VisionRwkv.Blocks;
using VisionRwkv.Layers;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Explain;

/// <summary>
/// The Vision-RWKV-specific map: how much each input token of the last block's spatial mix supplies to the pooled
/// feature through its Bi-WKV, read from the mixing weights, which are explicit (no gradients).
/// <para>
/// Derivation. Per channel c, with w = spatial_decay/T and u = spatial_first/T (both divided by the runtime token
/// count T = N, as <see cref="SpatialMix"/> passes them and as the official code does), <see cref="Wkv.Wkv4"/>
/// computes y_t = Σ_i a_{t,i} v_i with
///   a_{t,i} = e^{ℓ_{t,i}} / Σ_j e^{ℓ_{t,j}},  ℓ_{t,i} = -(|t-i|-1)·w + k_i (i ≠ t),  ℓ_{t,t} = u + k_t,
/// i.e. row t of a = softmax over i of ℓ_{t,·} (exactly, not approximately: a test checks Σ_i a_{t,i} v_i against
/// the WKV reference). The branch output at t is O·(σ(r_t) ⊙ y_t) and the head mean-pools tokens, so the branch's
/// pooled contribution in channel c is (1/N) Σ_t σ(r_{t,c}) y_{t,c} = Σ_i s_{c,i} v_{i,c} with the share
///   s_{c,i} = (1/N) Σ_t σ(r_{t,c}) a^c_{t,i}.
/// The map is M_i = Σ_c ρ_c s_{c,i} f_{i,c}:
/// <see cref="WkvWeighting.Mixing"/>: ρ_c = 1/C, f = 1, how much of the pooled WKV output token i supplies, whatever
/// the label; min-max scaled.
/// <see cref="WkvWeighting.Label"/> (default): f = v_{i,c} and ρ = Oᵀ·P·(γ ⊙ W_label), the label's row of the linear
/// head read back through the final LayerNorm's weight γ and centring P = I - 11ᵀ/C (and, in post-norm blocks, the
/// block's own norm and layer scale) to the WKV channels. M_i is then token i's share of the label's logit along the
/// linear path, ignoring the LayerNorms' per-token 1/σ and the channel mix after the spatial mix: the explicit part
/// of the attribution, exactly; the rest, linearised. Chosen as default because the Mixing map does not depend on
/// the label (it shows where the layer looks, not what decides the class); ReLU, then divided by its maximum.
/// Models whose head is an MLP (VRWKV-L) or whose WKV output is layer-normed (key_norm) have no such linear path;
/// there the Label weighting falls back to Mixing.
/// Rollout (<see cref="SaliencyOptions.WkvRollout"/>, default): M gives the tokens that enter the last block, which
/// earlier bidirectional blocks have already mixed across the whole image; M is carried back to the image's patches
/// through every earlier block's channel-averaged mixing matrix Ā_b (<see cref="Rollback"/>: half along the residual,
/// half along the rows of Ā_b), as attention rollout does for Transformers. Channel mixes act per token and are
/// passed through unchanged (their one-pixel Q-Shift is ignored).
/// The map ignores <see cref="Wkv.WkvCompat.OfficialOldKernel"/>'s chunk stitching: it uses the exact formula.
/// </para>
/// <para>
/// Cost: per image, the fast path holds one chunk of channels' [N,N] weights at a time (Chunk·N² floats; at N = 196
/// tokens and 16 channels, 2.5 MB), O(C·N²) work; N is a few hundred tokens for the models here, which is fine.
/// </para>
/// </summary>
public static class WkvAttribution
{
    /// <summary>The map of logit label for image batch x, [1,C,H,W] on the model's device.</summary>
    internal static float[,] Map(IImageClassifier model, Tensor x, int label, SaliencyOptions options)
    {
        if (model is not VrwkvClassifier v)
            throw new NotSupportedException($"the WKV map needs a Vision-RWKV model; {model.Name} has no Bi-WKV (use gradcam or occlusion)");
        using var scope = NewDisposeScope();
        var (blocks, grid) = BlockInputs(v, x, options.WkvRollout ? null : v.LayerCount - 1);
        var inputs = blocks[^1];
        var rho = options.WkvWeighting == WkvWeighting.Label ? LabelRelevance(v, label) : null;
        var tokens = TokenMap(inputs.K[0], inputs.V[0], inputs.Gate[0], inputs.W, inputs.U, rho, options.WkvChannelChunk);   // [N]
        if (options.WkvRollout)
            tokens = RollBackThrough(tokens, blocks, blocks.Count - 1, options.WkvChannelChunk);
        var up = Saliency.Upsample(tokens.reshape(grid.Height, grid.Width), x.shape[2], x.shape[3]);
        if (rho is null) return Saliency.MinMax(up);
        // Tokens that support the label; when none does (an untrained model, a label the image argues against), the
        // signed map min-max scaled rather than a blank one.
        var support = nn.functional.relu(up);
        return support.max().item<float>() > 0 ? Saliency.ScaleByMax(support) : Saliency.MinMax(up);
    }

    /// <summary>
    /// The fast map over tokens: M_i = Σ_c ρ_c s_{c,i} f_{i,c} (see the class comment), chunk channels at a time.
    /// k, v, gate: [N,C]; w, u: [C]; rho: [C] or null (Mixing: ρ = 1/C, f = 1). Returns [N] float32.
    /// </summary>
    public static Tensor TokenMap(Tensor k, Tensor v, Tensor gate, Tensor w, Tensor u, Tensor? rho, int chunk = 16)
    {
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(gate);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(u);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long n = k.shape[0], c = k.shape[1];
        var offsets = Offsets(n, k.device);
        var map = zeros(n, dtype: float32, device: k.device);
        for (long c0 = 0; c0 < c; c0 += chunk)
        {
            using var step = NewDisposeScope();
            long cc = Math.Min(chunk, c - c0);
            var a = Weights(k, w, u, c0, cc, offsets);                           // [cc,N(t),N(i)]
            var g = gate.narrow(1, c0, cc).t().to(float32).unsqueeze(1);         // [cc,1,N(t)]
            var share = g.bmm(a).squeeze(1) / n;                                 // [cc,N(i)]: (1/N) Σ_t σ(r_t) a_{t,i}
            var contribution = rho is null
                ? share.sum([0L]) / c                                               // ρ = 1/C, f = 1
                : (rho.narrow(0, c0, cc).to(float32).unsqueeze(1) * share * v.narrow(1, c0, cc).t().to(float32)).sum([0L]);
            map.add_(contribution);
        }
        return map.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The slow, obviously correct map: the same formula as <see cref="TokenMap"/> in explicit loops over channels,
    /// output tokens t and input tokens i, in double precision. Arrays are [N,C] (k, v, gate) and [C].
    /// </summary>
    public static double[] ReferenceTokenMap(float[,] k, float[,] v, float[,] gate, float[] w, float[] u, double[]? rho)
    {
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(gate);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(u);
        int n = k.GetLength(0), channels = k.GetLength(1);
        var map = new double[n];
        var logit = new double[n];
        for (int c = 0; c < channels; c++)
        {
            for (int t = 0; t < n; t++)
            {
                double max = double.NegativeInfinity;
                for (int i = 0; i < n; i++)
                {
                    logit[i] = i == t ? (double)u[c] + k[t, c] : -(Math.Abs(t - i) - 1.0) * w[c] + k[i, c];
                    max = Math.Max(max, logit[i]);
                }
                double z = 0;
                for (int i = 0; i < n; i++) z += Math.Exp(logit[i] - max);
                for (int i = 0; i < n; i++)
                {
                    double a = Math.Exp(logit[i] - max) / z;
                    double share = gate[t, c] * a / n;
                    map[i] += rho is null ? share / channels : rho[c] * share * v[i, c];
                }
            }
        }
        return map;
    }

    /// <summary>
    /// The channel-averaged Bi-WKV mixing matrix of one block, Ā[t,i] = (1/C) Σ_c a^c_{t,i} (rows sum to 1), from its
    /// keys k [N,C] and w, u [C]; chunked over channels like <see cref="TokenMap"/>. [N,N] float32.
    /// </summary>
    public static Tensor MixingMatrix(Tensor k, Tensor w, Tensor u, int chunk = 16)
    {
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(u);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long n = k.shape[0], c = k.shape[1];
        var offsets = Offsets(n, k.device);
        var sum = zeros(n, n, dtype: float32, device: k.device);
        for (long c0 = 0; c0 < c; c0 += chunk)
        {
            using var step = NewDisposeScope();
            sum.add_(Weights(k, w, u, c0, Math.Min(chunk, c - c0), offsets).sum([0L]));   // Σ_c a^c [N,N]
        }
        return (sum / c).MoveToOuterDisposeScope();
    }

    /// <summary>|t-i|-1 [N(t),N(i)] and the diagonal mask i == t [N,N], shared by every channel chunk.</summary>
    private static (Tensor Distance, Tensor Self) Offsets(long n, Device device)
    {
        var idx = arange(n, dtype: float32, device: device);
        return ((idx.unsqueeze(1) - idx.unsqueeze(0)).abs() - 1, eye(n, dtype: ScalarType.Bool, device: device));
    }

    /// <summary>
    /// The Bi-WKV mixing weights of channels c0..c0+cc: a^c_{t,i} = softmax over i of ℓ_{t,i}, with
    /// ℓ_{t,i} = -(|t-i|-1)·w + k_i off the diagonal and u + k_t on it. [cc,N(t),N(i)], rows summing to 1.
    /// </summary>
    private static Tensor Weights(Tensor k, Tensor w, Tensor u, long c0, long cc, (Tensor Distance, Tensor Self) offsets)
    {
        var kc = k.narrow(1, c0, cc).t().to(float32);                            // [cc,N]
        var logits = -offsets.Distance.unsqueeze(0) * w.narrow(0, c0, cc).to(float32).view(cc, 1, 1) + kc.unsqueeze(1);
        logits = where(offsets.Self, (u.narrow(0, c0, cc).to(float32).view(cc, 1) + kc).unsqueeze(2), logits);
        return logits.softmax(2);
    }

    /// <summary>
    /// One step of the rollout (Abnar and Zuidema 2020, for attention; here the Bi-WKV's explicit weights): relevance
    /// m [N] of the tokens leaving a block → relevance of the tokens entering it, m'_i = ½ m_i + ½ Σ_t m_t Ā[t,i]: half
    /// through the residual path, half through the mixing rows (the usual equal split of the rollout). [N] float32.
    /// </summary>
    public static Tensor Rollback(Tensor relevance, Tensor mixing)
    {
        ArgumentNullException.ThrowIfNull(relevance);
        ArgumentNullException.ThrowIfNull(mixing);
        using var scope = NewDisposeScope();
        return (0.5 * relevance + 0.5 * mixing.t().matmul(relevance)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Relevance [N] of the tokens entering block <paramref name="block"/> carried back to the image's patches through
    /// blocks block-1 .. 0 (<see cref="Rollback"/> with each block's <see cref="MixingMatrix"/>): what entered block b at
    /// token i reached block b+1 at i itself (the residual) and, through the Bi-WKV's rows, at every t.
    /// </summary>
    internal static Tensor RollBackThrough(Tensor relevance, IReadOnlyList<(Tensor K, Tensor V, Tensor Gate, Tensor W, Tensor U)> blocks, int block, int chunk)
    {
        for (int b = block - 1; b >= 0; b--)
            relevance = Rollback(relevance, MixingMatrix(blocks[b].K[0], blocks[b].W, blocks[b].U, chunk));
        return relevance;
    }

    /// <summary>
    /// The spatial-mix inputs k, v, σ(r) [1,N,C] and w, u [C] of every block (or of block <paramref name="only"/>), in
    /// order, for image batch x, without gradients.
    /// </summary>
    internal static (IReadOnlyList<(Tensor K, Tensor V, Tensor Gate, Tensor W, Tensor U)> Blocks, PatchGrid Grid) BlockInputs(VrwkvClassifier model, Tensor x, int? only = null)
    {
        var indices = only is int o ? [o] : Enumerable.Range(0, model.LayerCount).ToArray();
        var atts = indices.Select(i => GradCam.Find<SpatialMix>(model, $"backbone.layers.{i}.att")).ToArray();
        var seen = new Tensor?[atts.Length];
        PatchGrid grid = default;
        var hooks = atts.Select((att, j) => att.register_forward_pre_hook((_, input, g) =>
        {
            seen[j] = input.detach().DetachFromDisposeScope();
            grid = g;
            return null;
        })).ToArray();
        try
        {
            using var noGrad = no_grad();
            using (NewDisposeScope()) model.Backbone.call(x);
            if (seen.Any(t => t is null)) throw new InvalidOperationException($"a spatial mix of {model.Name} did not run");
            return ([.. atts.Select((att, j) => att.WkvInputs(seen[j]!, grid))], grid);
        }
        finally
        {
            foreach (var h in hooks) h.remove();
            foreach (var t in seen) t?.Dispose();
        }
    }

    /// <summary>
    /// ρ = Oᵀ·[γ_b ⊙ γ1 ⊙ P]·P·(γ ⊙ W_label) (see the class comment), or null when the model has no linear path from
    /// the WKV output to the logit (an MLP head, key_norm).
    /// </summary>
    internal static Tensor? LabelRelevance(VrwkvClassifier model, int label)
    {
        var cfg = model.Config;
        if (cfg.HeadHidden > 0 || cfg.KeyNorm) return null;
        var p = model.named_parameters().ToDictionary(e => e.name, e => (Tensor)e.parameter);
        string last = $"backbone.layers.{cfg.Depth - 1}.";
        using var noGrad = no_grad();
        var r = p["head.fc.weight"][label].to(float32);                          // [C]
        if (cfg.FinalNorm) r = Centre(p["backbone.ln1.weight"].to(float32) * r);
        if (cfg.PostNorm)
        {
            // Post-norm: x += γ1 ⊙ LN_b(att(x)); the block's own norm and layer scale sit between the mix and the stream.
            if (p.TryGetValue(last + "gamma1", out var gamma1)) r = gamma1.to(float32) * r;
            r = Centre(p[last + "ln1.weight"].to(float32) * r);
        }
        return p[last + "att.output.weight"].to(float32).t().matmul(r);          // [C]: Oᵀ r
    }

    /// <summary>P·r with P = I - 11ᵀ/C, the LayerNorm's mean subtraction (P is symmetric, so Pᵀ = P).</summary>
    private static Tensor Centre(Tensor r) => r - r.mean();
}
