using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace VisionRwkv.Tests;

/// <summary>
/// Compiles a CUDA kernel source as plain C++ (g++) with a harness that defines the CUDA qualifiers away and runs every
/// "thread" on the CPU, so that machines without a GPU (CI) still check a kernel's indexing and arithmetic. The
/// on-device check (<c>rwkv bench wkv --device cuda --check</c>) covers the real compiler and hardware.
/// </summary>
internal static class CudaEmulation
{
    /// <summary>
    /// The harness executable, or null and why not when this machine has no g++. A source that does not compile as C++
    /// throws: that is a defect of the kernel or the harness, not a missing tool, so the test fails instead of skipping.
    /// </summary>
    public static (string? Exe, string Why) Build(string name, string kernelSource, string harness)
    {
        // One folder per kernel and harness version, reused across runs (nothing piles up in /tmp); the executable
        // appears under its final name only once complete.
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(kernelSource + "\0" + harness)))[..16];
        var dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"rwkv-{name}-emulation-{hash}")).FullName;
        var exe = Path.Combine(dir, "harness");
        if (File.Exists(exe))
            return (exe, "");
        File.WriteAllText(Path.Combine(dir, "kernel.cu"), kernelSource);
        File.WriteAllText(Path.Combine(dir, "harness.cpp"), harness);
        var partial = $"{exe}.{Environment.ProcessId}.part";
        try
        {
            // -ffp-contract=off: the emulation must not fuse a multiply and an add that the kernel keeps apart.
            // AddressSanitizer: a thread that reads or writes past its buffers aborts the harness instead of passing.
            var (code, output) = Run("g++", dir, "-O1", "-std=c++17", "-ffp-contract=off", "-fsanitize=address",
                "-fno-omit-frame-pointer", "-Wall", "-Werror", "harness.cpp", "-o", partial);
            if (code != 0)
                throw new InvalidOperationException($"g++ failed to compile the CUDA source as C++:\n{output}");
            File.Move(partial, exe, overwrite: true);
            return (exe, "");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (null, "no g++ on this machine");
        }
    }

    /// <summary>Runs <paramref name="exe"/> in <paramref name="dir"/>: exit code and everything it printed.</summary>
    public static (int Code, string Output) Run(string exe, string dir, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, output.Result + errors.Result);
    }
}
