using System.Globalization;
using System.Runtime.InteropServices;

namespace VisionRwkv.Benchmarks;

/// <summary>Resident-set figures of this process, from /proc/self/status (Linux).</summary>
/// <param name="RssBytes">VmRSS: resident now.</param>
/// <param name="PeakRssBytes">VmHWM: the resident high-water mark since start or since the last reset.</param>
public readonly record struct ProcessMemory(long RssBytes, long PeakRssBytes);

/// <summary>
/// Process memory on the CPU: reads VmRSS/VmHWM from /proc/self/status and resets the high-water mark by writing 5 to
/// /proc/self/clear_refs (Linux ≥ 4.0), so that each benchmark configuration gets its own peak.
/// </summary>
public static partial class ProcessMemoryProbe
{
    private const string StatusPath = "/proc/self/status";
    private const string ClearRefsPath = "/proc/self/clear_refs";

    /// <summary>True where /proc/self/status exists (Linux).</summary>
    public static bool IsAvailable => File.Exists(StatusPath);

    /// <summary>Reads the current figures; throws <see cref="PlatformNotSupportedException"/> without /proc.</summary>
    public static ProcessMemory Read()
    {
        if (!IsAvailable) throw new PlatformNotSupportedException($"{StatusPath} is missing: process memory is read from Linux's /proc only");
        return ParseStatus(File.ReadAllText(StatusPath));
    }

    /// <summary>
    /// Hands freed heap memory back to the kernel (glibc malloc_trim), so that what an earlier configuration freed but
    /// the allocator kept does not count towards the next one's resident set. False where glibc is not there.
    /// </summary>
    public static bool TryTrimHeap()
    {
        try
        {
            return malloc_trim(0) != 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc.so.6")]
    private static partial int malloc_trim(nuint pad);

    /// <summary>Resets VmHWM to the current VmRSS; false where the kernel does not permit it (then measure growth instead).</summary>
    public static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText(ClearRefsPath, "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>Parses the VmRSS and VmHWM lines ("VmHWM:	  123456 kB") of a /proc/PID/status text.</summary>
    public static ProcessMemory ParseStatus(string status)
    {
        ArgumentNullException.ThrowIfNull(status);
        long? rss = null, hwm = null;
        foreach (var line in status.Split('\n'))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = ParseKb(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = ParseKb(line);
        }
        if (rss is null || hwm is null)
            throw new InvalidDataException($"{StatusPath}: no {(rss is null ? "VmRSS" : "VmHWM")} line");
        return new ProcessMemory(rss.Value, hwm.Value);
    }

    private static long ParseKb(string line)
    {
        var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);   // ["VmHWM:", "123456", "kB"]
        if (parts.Length != 3 || parts[2] != "kB" || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long kb))
            throw new InvalidDataException($"{StatusPath}: unexpected line '{line.Trim()}'");
        return kb * 1024;
    }
}

/// <summary>
/// GPU memory without nvidia-smi: TorchSharp 0.107 exposes none of the CUDA caching allocator's statistics, so this asks
/// the CUDA driver (libcuda, cuMemGetInfo) how much device memory is in use. The caching allocator keeps what it has
/// reserved, so "in use" after a run is the allocator's peak reservation plus the context and any other process.
/// </summary>
public static partial class CudaMemoryProbe
{
    /// <summary>Device memory in use (total − free) on the current context's device, or null if the driver cannot say.</summary>
    public static long? TryReadUsedBytes()
    {
        try
        {
            int rc = cuMemGetInfo_v2(out nuint free, out nuint total);
            return rc == 0 ? (long)(total - free) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [LibraryImport("libcuda.so.1")]
    private static partial int cuMemGetInfo_v2(out nuint free, out nuint total);
}
