using VisionRwkv.Explain;
using VisionRwkv.Models;
using VisionRwkv.Models.Vit;
using VisionRwkv.Wkv;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Explain;

public sealed class WkvAttributionTests
{
    private static float[,] ToArray2(Tensor t)
    {
        var data = t.contiguous().data<float>().ToArray();
        var a = new float[t.shape[0], t.shape[1]];
        Buffer.BlockCopy(data, 0, a, 0, data.Length * sizeof(float));
        return a;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_fast_token_map_equals_the_explicit_double_loop_reference(bool label)
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(7);
        const int n = 23, c = 7;                       // 7 channels in chunks of 3: the last chunk is partial
        var k = randn(n, c, generator: gen) * 2;
        var v = randn(n, c, generator: gen);
        var gate = rand(n, c, generator: gen);
        var w = (rand(c, generator: gen) * 10 - 5) / n;  // any sign, as spatial_decay / T
        var u = (rand(c, generator: gen) * 4 - 2) / n;
        var rho = label ? randn(c, generator: gen) : null;
        var fast = WkvAttribution.TokenMap(k, v, gate, w, u, rho, chunk: 3).data<float>().ToArray();
        var reference = WkvAttribution.ReferenceTokenMap(ToArray2(k), ToArray2(v), ToArray2(gate),
            w.data<float>().ToArray(), u.data<float>().ToArray(), rho?.to(float64).data<double>().ToArray());
        double scale = reference.Max(Math.Abs);
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(fast[i] - reference[i]) <= 1e-5 * scale, $"token {i}: fast {fast[i]}, reference {reference[i]}");
    }

    [Fact]
    public void The_map_weights_are_the_mixing_weights_the_WKV_core_computes()
    {
        // With the gate N at output token t only and ρ selecting channel c, Σ_i M_i = Σ_i a^c_{t,i} v_{i,c} = y_{t,c}:
        // the weights the map sums must reproduce the reference Bi-WKV's output token by token.
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(11);
        const int n = 9, c = 3;
        var k = randn(n, c, generator: gen);
        var v = randn(n, c, generator: gen);
        var w = (rand(c, generator: gen) * 10 - 5) / n;
        var u = (rand(c, generator: gen) * 4 - 2) / n;
        var y = Wkv4.Bidirectional(k.unsqueeze(0).to(float64), v.unsqueeze(0).to(float64), w.to(float64), u.to(float64),
            WkvImplementation.Reference)[0];                                        // [N,C]
        for (int t = 0; t < n; t++)
            for (int ch = 0; ch < c; ch++)
            {
                var gate = zeros(n, c);
                gate[t] = n;
                var rho = zeros(c);
                rho[ch] = 1;
                float sum = WkvAttribution.TokenMap(k, v, gate, w, u, rho).sum().item<float>();
                Assert.Equal(y[t, ch].item<double>(), sum, 5);
            }
    }

    [Fact]
    public void The_WKV_map_of_a_model_lies_in_the_unit_range_and_refuses_a_ViT()
    {
        using var scope = NewDisposeScope();
        using var vrwkv = new VrwkvClassifier(VrwkvConfig.Mini28);
        var image = randn(1, 28, 28, generator: new TorchSharp.torch.Generator(3));
        foreach (var weighting in new[] { WkvWeighting.Mixing, WkvWeighting.Label })
        {
            var map = Saliency.Map(vrwkv, image, 2, SaliencyMethod.Wkv, new SaliencyOptions { WkvWeighting = weighting });
            Assert.Equal(28, map.GetLength(0));
            Assert.Equal(28, map.GetLength(1));
            var values = map.Cast<float>().ToArray();
            Assert.All(values, x => Assert.InRange(x, 0f, 1f));
            Assert.Equal(1f, values.Max());
        }
        using var vit = new VisionTransformer(VitConfig.Mini28);
        var e = Assert.Throws<NotSupportedException>(() => Saliency.Map(vit, image, 0, SaliencyMethod.Wkv));
        Assert.Contains("Vision-RWKV", e.Message);
    }

    [Fact]
    public void The_rollout_mixing_matrix_is_the_channel_mean_of_the_softmax_rows_and_rollback_keeps_the_total()
    {
        // Ā[t,i] = (1/C) Σ_c softmax_i(ℓ^c_{t,·}) with ℓ = -(|t-i|-1)w + k_i off the diagonal and u + k_t on it, written
        // out in double loops; rows of Ā sum to 1, so a rollback step keeps Σ_i m_i.
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(5);
        const int n = 11, c = 5;
        var k = randn(n, c, generator: gen);
        var w = (rand(c, generator: gen) * 10 - 5) / n;
        var u = (rand(c, generator: gen) * 4 - 2) / n;
        var fast = ToArray2(WkvAttribution.MixingMatrix(k, w, u, chunk: 2));
        var kk = ToArray2(k);
        float[] ww = w.data<float>().ToArray(), uu = u.data<float>().ToArray();
        for (int t = 0; t < n; t++)
        {
            var expected = new double[n];
            for (int ch = 0; ch < c; ch++)
            {
                var l = Enumerable.Range(0, n).Select(i => i == t ? (double)uu[ch] + kk[t, ch] : -(Math.Abs(t - i) - 1.0) * ww[ch] + kk[i, ch]).ToArray();
                double z = l.Sum(Math.Exp);
                for (int i = 0; i < n; i++) expected[i] += Math.Exp(l[i]) / z / c;
            }
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(fast[t, i] - expected[i]) < 1e-6, $"Ā[{t},{i}] = {fast[t, i]}, expected {expected[i]}");
        }
        var m = randn(n, generator: gen);
        var back = WkvAttribution.Rollback(m, WkvAttribution.MixingMatrix(k, w, u));
        Assert.Equal(m.sum().item<float>(), back.sum().item<float>(), 4);
    }
}
