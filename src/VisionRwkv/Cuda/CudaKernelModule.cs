using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Cuda;

/// <summary>
/// One CUDA C source compiled at run time with NVRTC (once per compute capability) and loaded into each device's
/// primary context (once per device), with launches of its kernels on LibTorch tensors' device memory. Every kernel
/// parameter is 8 bytes: a device pointer, an i64, or a double passed as its bit pattern
/// (<see cref="BitConverter.DoubleToInt64Bits"/>). Thread-safe.
/// </summary>
/// <param name="source">CUDA C source.</param>
/// <param name="fileName">Name NVRTC reports in its messages.</param>
/// <param name="kernelNames">The <c>extern "C"</c> kernels to look up.</param>
/// <param name="description">What the kernels are, for the fallback message ("the fused CUDA WKV kernel").</param>
/// <param name="fallback">What runs instead when they cannot ("the chunked tensor-op WKV").</param>
internal sealed unsafe class CudaKernelModule(string source, string fileName, IReadOnlyList<string> kernelNames,
    string description, string fallback)
{
    private readonly object _gate = new();
    private readonly Dictionary<(int, int), byte[]> _images = [];
    private readonly Dictionary<int, LoadedModule> _modules = [];
    private readonly Dictionary<int, string?> _failures = [];
    private bool _warned;

    /// <summary>A module loaded into one device's primary context, with its kernels.</summary>
    private sealed record LoadedModule(nint Context, Dictionary<string, nint> Functions, int Multiprocessors);

    /// <summary>
    /// Compiles and loads the kernels for <paramref name="device"/>; throws <see cref="InvalidOperationException"/>
    /// with the reason when the driver, NVRTC or the compilation fails.
    /// </summary>
    public void EnsureLoaded(int device)
    {
        lock (_gate)
        {
            if (_modules.ContainsKey(device))
                return;
            if (!CudaDriver.TryLoad(out var driverError))
                throw new InvalidOperationException(driverError);
            if (!Nvrtc.TryLoad(out var nvrtcError))
                throw new InvalidOperationException(nvrtcError);
            var (major, minor, sms) = CudaDriver.DeviceInfo(device);
            if (!_images.TryGetValue((major, minor), out var image))
                _images[(major, minor)] = image = Nvrtc.Compile(source, fileName, major, minor);
            var ctx = CudaDriver.PrimaryContext(device);
            var previous = CudaDriver.MakeCurrent(ctx);
            try
            {
                var module = CudaDriver.LoadModule(image);
                var functions = kernelNames.ToDictionary(n => n, n => CudaDriver.GetFunction(module, n));
                _modules[device] = new LoadedModule(ctx, functions, sms);
            }
            finally
            {
                CudaDriver.Restore(previous);
            }
        }
    }

    /// <summary>
    /// Why the kernels cannot run on CUDA device <paramref name="device"/> (no driver, no NVRTC, compile error), or null
    /// when they can; tried once per device and cached.
    /// </summary>
    public string? UnavailableReason(int device)
    {
        lock (_gate)
        {
            if (!_failures.TryGetValue(device, out var reason))
                _failures[device] = reason = TryLoad(device);
            return reason;
        }
    }

    /// <summary>
    /// Whether the kernels run on <paramref name="device"/>; false for non-CUDA devices and when not
    /// <paramref name="enabled"/> (switched off on purpose, silently). With <paramref name="warn"/>, the first failure
    /// prints once to stderr what runs instead.
    /// </summary>
    public bool CanRun(Device device, bool enabled = true, bool warn = true)
    {
        if (device.type != DeviceType.CUDA || !enabled)
            return false;
        var reason = UnavailableReason(DeviceIndex(device));
        if (reason is null)
            return true;
        lock (_gate)
        {
            if (!warn || _warned)
                return false;
            _warned = true;
        }
        Console.Error.WriteLine($"rwkv: {description} is unavailable ({reason}); using {fallback} instead.");
        return false;
    }

    private string? TryLoad(int device)
    {
        try
        {
            EnsureLoaded(device);
            return null;
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }

    /// <summary>Streaming multiprocessors of the device the tensor lives on (loads the module first).</summary>
    public int Multiprocessors(Tensor like)
    {
        int device = DeviceIndex(like);
        EnsureLoaded(device);
        lock (_gate)
            return _modules[device].Multiprocessors;
    }

    /// <summary>
    /// Launches <paramref name="threads"/> threads of kernel <paramref name="name"/> in a 1-D grid on the device of
    /// <paramref name="like"/>. <paramref name="block"/> threads per block; when null, 128, or 32 when there are too
    /// few threads to give every multiprocessor a few blocks of 128 (long scans over few (b, c) pairs).
    /// </summary>
    public void Launch(string name, Tensor like, long threads, long[] args, uint? block = null)
    {
        if (threads == 0)
            return;
        int device = DeviceIndex(like);
        EnsureLoaded(device);
        LoadedModule m;
        lock (_gate)
            m = _modules[device];
        uint b = block ?? (threads >= 128L * m.Multiprocessors ? 128u : 32u);
        uint grid = checked((uint)((threads + b - 1) / b));
        var values = stackalloc long[args.Length];
        var pointers = stackalloc void*[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            values[i] = args[i];
            pointers[i] = &values[i];
        }
        var previous = CudaDriver.MakeCurrent(m.Context);
        try
        {
            CudaDriver.Launch(m.Functions[name], grid, b, pointers, name);
        }
        finally
        {
            CudaDriver.Restore(previous);
        }
    }

    /// <summary>
    /// Device address of element 0 of a contiguous float32 CUDA tensor: TorchSharp exposes the storage's base
    /// address, to which the tensor's storage offset (in elements) is added.
    /// </summary>
    public static long Ptr(Tensor t)
    {
        if (t.dtype != ScalarType.Float32 || !t.is_contiguous() || t.device_type != DeviceType.CUDA)
            throw new ArgumentException($"The CUDA kernels need contiguous float32 CUDA tensors; got {t.dtype} on {t.device}, contiguous={t.is_contiguous()}.");
        using var storage = t.storage<float>();
        return (long)storage.data_ptr() + t.storage_offset() * sizeof(float);
    }

    private static int DeviceIndex(Tensor like) => DeviceIndex(like.device);

    private static int DeviceIndex(Device device) => device.index < 0 ? 0 : device.index;
}
