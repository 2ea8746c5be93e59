using System.Runtime.InteropServices;

namespace VisionRwkv.Runtime;

/// <summary>
/// Process-level settings for LibTorch's OpenMP threads and CPU allocator, applied before LibTorch is loaded or
/// allocates (both read their environment once). A setting the user made always wins.
/// </summary>
public static partial class NativeRuntime
{
    /// <summary>
    /// Sets, unless already set:
    /// <list type="bullet">
    /// <item>GOMP_SPINCOUNT=10000. After every parallel LibTorch op, libgomp's workers busy-wait for the next one
    /// (300,000 spins by default); our fused kernels run on .NET threads between LibTorch ops, and on a small machine
    /// those spinning workers take their cores. A vrwkv_mini_28 training step at batch 128 on a 2-core CPU (median of
    /// 50 steps, several alternating runs) took 2.02-2.17 ms per image with 10,000 spins against 2.18-2.26 ms with the
    /// default, and 2.71-3.19 ms with 0 (every op then wakes a sleeping thread); the spread between runs is close to
    /// the gain.</item>
    /// <item>THP_MEM_ALLOC_ENABLE=1: LibTorch aligns CPU tensors of 2 MB and more to 2 MB and asks the kernel for
    /// transparent huge pages (where THP is "madvise" or "always"). Every fresh 4 KB page of a new activation costs a
    /// page fault, and in a virtual machine a fault is several microseconds: at 896x896 both vrwkv_t and vit_t
    /// allocate tens of MB per image. In two alternating pairs of `rwkv bench model --res 896` runs on a 2-core VM,
    /// vrwkv_t ran at 3.04 and 2.97 img/s with it against 2.53 and 2.68 without, vit_t at 0.93 and 0.93 against 0.84
    /// and 1.04.</item>
    /// </list>
    /// Call first thing in Main; settings made after LibTorch has started have no effect.
    /// </summary>
    public static void Prepare()
    {
        SetDefault("GOMP_SPINCOUNT", "10000");
        SetDefault("THP_MEM_ALLOC_ENABLE", "1");
    }

    /// <summary>Sets <paramref name="name"/> in the native environment unless it is set (Linux only).</summary>
    internal static void SetDefault(string name, string value)
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(name) is not null)
            return;
        try
        {
            // The native environment, not .NET's copy: libgomp and LibTorch call getenv().
            _ = setenv(name, value, 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc/musl: keep the defaults.
        }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
