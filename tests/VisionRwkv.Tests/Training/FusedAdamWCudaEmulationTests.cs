using TorchSharp;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Training;

/// <summary>The CUDA AdamW kernel, emulated on the CPU (<see cref="CudaEmulation"/>), against the op sequence.</summary>
public class FusedAdamWCudaEmulationTests
{
    private const string Harness = """
        #include <cstdio>
        #include <math.h>
        #include <vector>
        struct Dim { long long x = 0; };
        static Dim blockIdx, blockDim, threadIdx;
        #define __global__
        #define __restrict__
        static inline float __fmul_rn(float a, float b) { return a * b; }
        static inline float __fadd_rn(float a, float b) { return a + b; }
        static inline float __fdiv_rn(float a, float b) { return a / b; }
        #include "kernel.cu"

        int main(int argc, char** argv)
        {
            FILE* in = fopen(argv[1], "rb");
            long long n;
            double c[8];
            if (fread(&n, 8, 1, in) != 1 || fread(c, 8, 8, in) != 8) return 2;
            std::vector<float> p(n), g(n), m(n), v(n);
            for (auto* a : { &p, &g, &m, &v })
                if (fread(a->data(), 4, n, in) != (size_t)n) return 2;
            fclose(in);
            // Whole blocks of 256 as a launch runs them: the spare threads of the last block must write nothing.
            blockDim.x = 256;
            for (long long i = 0; i < (n + 255) / 256 * 256; i++)
            {
                blockIdx.x = i / 256;
                threadIdx.x = i % 256;
                adamw_update(p.data(), g.data(), m.data(), v.data(), n, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
            }
            FILE* out = fopen(argv[2], "wb");
            for (auto* a : { &p, &m, &v })
                fwrite(a->data(), 4, n, out);
            fclose(out);
            return 0;
        }
        """;

    private static readonly Lazy<(string? Exe, string Why)> Built =
        new(() => CudaEmulation.Build("adamw", FusedAdamWCuda.Source, Harness));

    [SkippableTheory]
    [InlineData(1, 1, 0.05)]
    [InlineData(300, 1, 0.0)]
    [InlineData(1000, 7, 0.05)]
    public void The_CUDA_AdamW_kernel_emulated_on_the_CPU_matches_the_op_sequence(int n, int step, double weightDecay)
    {
        var (exe, why) = Built.Value;
        Skip.If(exe is null, $"the CUDA source is not checked by emulation here: {why}");
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)(n + step));
        var (p, g) = (randn(n, generator: gen), randn(n, generator: gen) * 0.1);
        var (m, v) = (randn(n, generator: gen) * 0.01, rand(n, generator: gen) * 1e-3);
        var options = new TorchSharp.Modules.AdamW.Options
        {
            LearningRate = 2e-3, beta1 = 0.9, beta2 = 0.99, eps = 1e-8, weight_decay = weightDecay,
        };
        var c = FusedAdamW.Coefficients.For(options, step);

        var dir = Path.GetDirectoryName(exe)!;
        var input = Path.Combine(dir, $"in-{n}-{step}-{weightDecay}.bin");
        var output = Path.ChangeExtension(input, ".out");
        using (var f = new BinaryWriter(File.Create(input)))
        {
            f.Write((long)n);
            foreach (var x in new[] { c.Decay, c.Beta1, c.OneMinusBeta1, c.Beta2, c.OneMinusBeta2, c.SqrtBiasCorrection2, c.Eps, c.NegStepSize })
                f.Write(x);
            foreach (var t in new[] { p, g, m, v })
                foreach (var x in t.data<float>())
                    f.Write(x);
        }
        var (code, log) = CudaEmulation.Run(exe!, dir, input, output);
        Assert.True(code == 0, $"harness failed ({code}): {log}");
        float[] gotP, gotM, gotV;
        using (var r = new BinaryReader(File.OpenRead(output)))
        {
            float[] Read() => [.. Enumerable.Range(0, n).Select(_ => r.ReadSingle())];
            (gotP, gotM, gotV) = (Read(), Read(), Read());
        }

        FusedAdamW.ReferenceUpdate(p, g, m, v, c);
        // The moments use the same fma and multiplies as LibTorch's CPU kernels: equal bits. The parameter goes through
        // a square root, correctly rounded here (and on CUDA) but not in LibTorch's CPU kernel: a few ulps at most.
        Assert.Equal(m.data<float>().ToArray(), gotM);
        Assert.Equal(v.data<float>().ToArray(), gotV);
        var expected = p.data<float>().ToArray();
        for (int i = 0; i < n; i++)
        {
            int ulps = Math.Abs(BitConverter.SingleToInt32Bits(expected[i]) - BitConverter.SingleToInt32Bits(gotP[i]));
            Assert.True(ulps <= 4, $"p[{i}]: {gotP[i]:R} against {expected[i]:R} ({ulps} ulps)");
        }
    }
}
