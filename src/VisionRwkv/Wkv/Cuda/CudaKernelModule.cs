using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Wkv.Cuda;

/// <summary>
/// One CUDA C source compiled at run time with NVRTC (once per compute capability) and loaded into each device's
/// primary context (once per device), with launches of its kernels on LibTorch tensors' device memory. Every kernel
/// parameter is 8 bytes (a device pointer or an i64). Thread-safe.
/// </summary>
internal sealed unsafe class CudaKernelModule(string source, string fileName, IReadOnlyList<string> kernelNames)
{
    private readonly object _gate = new();
    private readonly Dictionary<(int, int), byte[]> _images = [];
    private readonly Dictionary<int, LoadedModule> _modules = [];

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

    /// <summary>Tries <see cref="EnsureLoaded"/>; returns null on success, else why the kernels cannot run.</summary>
    public string? TryLoad(int device)
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

    private static int DeviceIndex(Tensor like) => like.device.index < 0 ? 0 : like.device.index;
}
