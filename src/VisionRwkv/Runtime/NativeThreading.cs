using System.Runtime.InteropServices;

namespace VisionRwkv.Runtime;

/// <summary>
/// Process-level settings for LibTorch's OpenMP threads, applied before LibTorch is loaded (libgomp reads its
/// environment once, when it is loaded).
/// </summary>
public static partial class NativeThreading
{
    /// <summary>
    /// Sets GOMP_SPINCOUNT=10000 unless the user set it. After every parallel LibTorch op, libgomp's workers busy-wait
    /// for the next one (300,000 spins by default); our fused kernels run on .NET threads between LibTorch ops, and on
    /// a small machine those spinning workers take their cores. A vrwkv_mini_28 training step at batch 128 on a 2-core
    /// CPU (median of 50 steps, several alternating runs) took 2.02-2.17 ms per image with 10,000 spins against
    /// 2.18-2.26 ms with the default, and 2.71-3.19 ms with 0 (every op then wakes a sleeping thread); the spread between
    /// runs is close to the gain. Call first thing in Main; it has no effect once LibTorch is loaded.
    /// </summary>
    public static void PrepareOpenMp()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null)
            return;
        try
        {
            // The native environment, not .NET's copy: libgomp calls getenv().
            _ = setenv("GOMP_SPINCOUNT", "10000", 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc/musl: keep the default.
        }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
