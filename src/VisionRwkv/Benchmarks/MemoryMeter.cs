using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Benchmarks;

/// <summary>
/// The peak memory of one benchmark configuration. CPU: the process's VmHWM after resetting it through clear_refs, or,
/// where the kernel refuses the reset, the largest VmRSS sampled at the end of each iteration (while its tensors live).
/// CUDA: the largest device memory in use (driver cuMemGetInfo) sampled at iteration ends, minus the reading taken
/// when the process first touched the GPU.
/// </summary>
internal sealed class MemoryMeter
{
    private static long? _cudaBaseline;

    private readonly Func<long?> _read;
    private readonly long _offset;
    private long? _peak;

    private MemoryMeter(Func<long?> read, long offset, string source)
    {
        _read = read;
        _offset = offset;
        Source = source;
    }

    /// <summary>How the figure is measured, for the JSON record and the printed table.</summary>
    public string Source { get; }

    /// <summary>Peak bytes seen so far, or null if nothing could be read.</summary>
    public long? PeakBytes => _peak is long p ? p - _offset : null;

    public static MemoryMeter Cpu()
    {
        if (!ProcessMemoryProbe.IsAvailable)
            return new MemoryMeter(() => null, 0, "unavailable (no /proc/self/status)");
        ProcessMemoryProbe.TryTrimHeap();
        if (ProcessMemoryProbe.TryResetPeak())
            return new MemoryMeter(() => ProcessMemoryProbe.Read().PeakRssBytes, 0, "process VmHWM, reset per config via /proc/self/clear_refs after malloc_trim");
        return new MemoryMeter(() => ProcessMemoryProbe.Read().RssBytes, 0, "process VmRSS sampled after each iteration (clear_refs not permitted)");
    }

    public static MemoryMeter Cuda()
    {
        if (_cudaBaseline is null)
        {
            // Create the context first, so that the baseline holds it and the figures hold only the allocator's memory.
            using (var probe = zeros(1, device: new Device(DeviceType.CUDA)))
                cuda.synchronize();
            _cudaBaseline = CudaMemoryProbe.TryReadUsedBytes();
        }
        if (_cudaBaseline is not long baseline)
            return new MemoryMeter(() => null, 0, "unavailable (libcuda cuMemGetInfo failed)");
        return new MemoryMeter(CudaMemoryProbe.TryReadUsedBytes, baseline,
            "CUDA device memory in use (cuMemGetInfo) above the process's first reading; the caching allocator keeps its " +
            "reservation across configs, so this is the running peak, exact for a config that needs more than every earlier one");
    }

    /// <summary>Takes a reading and keeps the largest.</summary>
    public void Sample()
    {
        if (_read() is long now && (_peak is null || now > _peak)) _peak = now;
    }
}
