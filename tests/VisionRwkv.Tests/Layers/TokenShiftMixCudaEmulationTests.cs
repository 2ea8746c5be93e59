using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Layers;

/// <summary>
/// The CUDA source of the fused token shift, emulated on the CPU (<see cref="CudaEmulation"/>), against the tensor-op
/// composition in float64: the kernels' indexing, border handling and reductions.
/// </summary>
public class TokenShiftMixCudaEmulationTests
{
    private const string Harness = """
        #include <cstdio>
        #include <vector>
        #include <algorithm>
        struct Dim { long long x = 0; };
        static Dim blockIdx, blockDim, threadIdx;
        #define __global__
        #define __device__
        #define __forceinline__ inline
        #define __restrict__
        using std::min;
        #include "kernel.cu"

        // Runs f once per thread index of a 1-D grid of 256-thread blocks, as a launch would.
        template <class F> static void launch(long long threads, F f)
        {
            blockDim.x = 256;
            for (long long i = 0; i < threads; i++) { blockIdx.x = i / 256; threadIdx.x = i % 256; f(); }
        }

        int main(int argc, char** argv)
        {
            FILE* in = fopen(argv[1], "rb");
            long long h[7];
            if (fread(h, 8, 7, in) != 7) return 2;
            long long B = h[0], H = h[1], W = h[2], C = h[3], q = h[4], s = h[5], M = h[6], n = B * H * W * C;
            std::vector<float> x(n), mu[3], g[3], o[3];
            if (fread(x.data(), 4, n, in) != (size_t)n) return 2;
            for (int m = 0; m < 3; m++) { mu[m].resize(C); g[m].resize(n); o[m].resize(n); }
            for (int m = 0; m < M; m++) if (fread(mu[m].data(), 4, C, in) != (size_t)C) return 2;
            for (int m = 0; m < M; m++) if (fread(g[m].data(), 4, n, in) != (size_t)n) return 2;
            fclose(in);
            auto P = [&](std::vector<float>* v, int m) -> float* { return m < M ? v[m].data() : nullptr; };
            launch(n, [&] { tsm_forward(x.data(), P(mu, 0), P(mu, 1), P(mu, 2), P(o, 0), P(o, 1), P(o, 2), n, H, W, C, q, s); });
            std::vector<float> gx(n);
            launch(n, [&] { tsm_backward_x(P(mu, 0), P(mu, 1), P(mu, 2), P(g, 0), P(g, 1), P(g, 2), gx.data(), n, H, W, C, q, s); });
            long long rows = B * H * W, chunks = std::max(1LL, std::min(rows, (rows + 63) / 64));
            long long per = (rows + chunks - 1) / chunks;
            chunks = (rows + per - 1) / per;
            std::vector<float> partial(chunks * 3 * C), gmu(3 * C, 0.f);
            launch(chunks * C, [&] { tsm_backward_mu(x.data(), P(g, 0), P(g, 1), P(g, 2), partial.data(), chunks, rows, per, H, W, C, q, s); });
            for (long long k = 0; k < chunks; k++) for (long long j = 0; j < 3 * C; j++) gmu[j] += partial[k * 3 * C + j];
            FILE* out = fopen(argv[2], "wb");
            for (int m = 0; m < M; m++) fwrite(o[m].data(), 4, n, out);
            fwrite(gx.data(), 4, n, out);
            fwrite(gmu.data(), 4, M * C, out);
            fclose(out);
            return 0;
        }
        """;

    private static readonly Lazy<(string? Exe, string Why)> Built =
        new(() => CudaEmulation.Build("tsm", TokenShiftMixCuda.Source, Harness));

    [SkippableTheory]
    [InlineData(2, 7, 7, 96, 3, 1)]      // the spatial mix of vrwkv_mini_28
    [InlineData(2, 7, 7, 96, 2, 1)]      // its channel mix
    [InlineData(3, 5, 9, 13, 3, 1)]      // C not divisible by 4: a remainder of unshifted channels
    [InlineData(1, 4, 6, 8, 1, 2)]       // shift of 2 patches
    [InlineData(2, 1, 1, 8, 3, 1)]       // one token: every shifted quarter reads the border
    [InlineData(1, 40, 3, 12, 2, 1)]     // more rows than one chunk of the mix gradient
    public void The_CUDA_token_shift_kernels_emulated_on_the_CPU_match_the_tensor_op_composition(int b, int h, int w,
        int c, int mixes, int shift)
    {
        var (exe, why) = Built.Value;
        Skip.If(exe is null, $"the CUDA source is not checked by emulation here: {why}");
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator((ulong)(b * 1000 + h * 100 + w * 10 + c + mixes));
        var grid = new PatchGrid(h, w);
        long n = grid.Tokens;
        var x = randn(new[] { (long)b, n, c }, generator: gen);
        var mus = Enumerable.Range(0, mixes).Select(_ => rand(new[] { 1L, 1, c }, generator: gen)).ToArray();
        var gs = Enumerable.Range(0, mixes).Select(_ => randn(new[] { (long)b, n, c }, generator: gen)).ToArray();

        var dir = Path.GetDirectoryName(exe)!;
        var input = Path.Combine(dir, $"in-{b}-{h}-{w}-{c}-{mixes}-{shift}.bin");
        var output = Path.ChangeExtension(input, ".out");
        using (var f = new BinaryWriter(File.Create(input)))
        {
            foreach (long v in new long[] { b, h, w, c, (long)(c * 0.25), shift, mixes })
                f.Write(v);
            foreach (var t in new[] { x }.Concat(mus).Concat(gs))
                foreach (var v in t.data<float>())
                    f.Write(v);
        }
        var (code, log) = CudaEmulation.Run(exe!, dir, input, output);
        Assert.True(code == 0, $"harness failed ({code}): {log}");
        var got = new BinaryReader(File.OpenRead(output));
        float[] Read(long count) => [.. Enumerable.Range(0, (int)count).Select(_ => got.ReadSingle())];
        var outs = Enumerable.Range(0, mixes).Select(_ => Read(x.numel())).ToArray();
        var gx = Read(x.numel());
        var gmu = Enumerable.Range(0, mixes).Select(_ => Read(c)).ToArray();
        got.Dispose();

        // The reference: Q-Shift + addcmul in float64, gradients of Σ_m Σ out_m·g_m by autograd.
        var x64 = x.to(ScalarType.Float64).requires_grad_();
        var mu64 = mus.Select(m => m.to(ScalarType.Float64).requires_grad_()).ToArray();
        var refOuts = TokenShiftMix.Reference(x64, grid, shift, 0.25, mu64);
        refOuts.Select((o, i) => (o * gs[i].to(ScalarType.Float64)).sum()).Aggregate((p, q) => p + q).backward();
        for (int i = 0; i < mixes; i++)
            Close(refOuts[i], outs[i], $"out{i}");
        Close(x64.grad!, gx, "dx");
        for (int i = 0; i < mixes; i++)
            Close(mu64[i].grad!, gmu[i], $"dmu{i}");
    }

    private static void Close(Tensor expected, float[] actual, string what)
    {
        var e = expected.detach().flatten().data<double>().ToArray();
        Assert.Equal(e.Length, actual.Length);
        double scale = Math.Max(1, e.Max(Math.Abs));
        double worst = e.Zip(actual, (a, v) => Math.Abs(a - v)).Max() / scale;
        Assert.True(worst <= 1e-5, $"{what}: worst error {worst:E2} relative to max {scale:G3}");
    }
}
