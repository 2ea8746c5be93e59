using System.Runtime.InteropServices;
using System.Text;

namespace VisionRwkv.Cuda;

/// <summary>
/// The few CUDA driver API calls (libcuda.so.1) needed to load a compiled module and launch its kernels on the memory
/// of LibTorch tensors. Resolved with <see cref="NativeLibrary"/> and called through function pointers, so a process
/// without a driver only gets a false <see cref="TryLoad"/>. Launches go to the legacy default stream (handle 0):
/// LibTorch's current stream unless a program switches streams, which TorchSharp 0.107 cannot do.
/// </summary>
internal static unsafe class CudaDriver
{
    private const int Success = 0;
    private const int AttrMultiprocessorCount = 16;
    private const int AttrComputeCapabilityMajor = 75;
    private const int AttrComputeCapabilityMinor = 76;

    private static readonly object Gate = new();
    private static bool _loaded;
    private static string? _loadError;

    private static delegate* unmanaged<uint, int> _cuInit;
    private static delegate* unmanaged<int*, int> _cuDriverGetVersion;
    private static delegate* unmanaged<int*, int, int> _cuDeviceGet;
    private static delegate* unmanaged<int*, int, int, int> _cuDeviceGetAttribute;
    private static delegate* unmanaged<nint*, int, int> _cuDevicePrimaryCtxRetain;
    private static delegate* unmanaged<nint*, int> _cuCtxGetCurrent;
    private static delegate* unmanaged<nint, int> _cuCtxSetCurrent;
    private static delegate* unmanaged<nint*, void*, int> _cuModuleLoadData;
    private static delegate* unmanaged<nint*, nint, byte*, int> _cuModuleGetFunction;
    private static delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> _cuLaunchKernel;
    private static delegate* unmanaged<int, byte**, int> _cuGetErrorString;

    /// <summary>Loads libcuda and calls cuInit once; false with a reason when there is no usable driver.</summary>
    public static bool TryLoad(out string? error)
    {
        lock (Gate)
        {
            if (!_loaded && _loadError is null)
                _loadError = Load();
            _loaded = _loadError is null;
            error = _loadError;
            return _loaded;
        }
    }

    private static string? Load()
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var lib) && !NativeLibrary.TryLoad("libcuda.so", out lib))
            return "the CUDA driver library libcuda.so.1 could not be loaded";
        try
        {
            _cuInit = (delegate* unmanaged<uint, int>)NativeLibrary.GetExport(lib, "cuInit");
            _cuDriverGetVersion = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(lib, "cuDriverGetVersion");
            _cuDeviceGet = (delegate* unmanaged<int*, int, int>)NativeLibrary.GetExport(lib, "cuDeviceGet");
            _cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)NativeLibrary.GetExport(lib, "cuDeviceGetAttribute");
            _cuDevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)NativeLibrary.GetExport(lib, "cuDevicePrimaryCtxRetain");
            _cuCtxGetCurrent = (delegate* unmanaged<nint*, int>)NativeLibrary.GetExport(lib, "cuCtxGetCurrent");
            _cuCtxSetCurrent = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(lib, "cuCtxSetCurrent");
            _cuModuleLoadData = (delegate* unmanaged<nint*, void*, int>)NativeLibrary.GetExport(lib, "cuModuleLoadData");
            _cuModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)NativeLibrary.GetExport(lib, "cuModuleGetFunction");
            _cuLaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)
                NativeLibrary.GetExport(lib, "cuLaunchKernel");
            _cuGetErrorString = (delegate* unmanaged<int, byte**, int>)NativeLibrary.GetExport(lib, "cuGetErrorString");
        }
        catch (EntryPointNotFoundException e)
        {
            return $"libcuda.so.1 lacks a driver API entry point ({e.Message})";
        }
        int rc = _cuInit(0);
        if (rc != Success)
            return $"cuInit failed: {ErrorString(rc)}";
        return null;
    }

    /// <summary>The driver's CUDA version as major.minor (e.g. 13.0).</summary>
    public static string DriverVersion()
    {
        int v;
        Check(_cuDriverGetVersion(&v), "cuDriverGetVersion");
        return $"{v / 1000}.{v % 1000 / 10}";
    }

    /// <summary>Compute capability (major, minor) and multiprocessor count of device <paramref name="ordinal"/>.</summary>
    public static (int Major, int Minor, int Multiprocessors) DeviceInfo(int ordinal)
    {
        int dev, major, minor, sms;
        Check(_cuDeviceGet(&dev, ordinal), "cuDeviceGet");
        Check(_cuDeviceGetAttribute(&major, AttrComputeCapabilityMajor, dev), "cuDeviceGetAttribute");
        Check(_cuDeviceGetAttribute(&minor, AttrComputeCapabilityMinor, dev), "cuDeviceGetAttribute");
        Check(_cuDeviceGetAttribute(&sms, AttrMultiprocessorCount, dev), "cuDeviceGetAttribute");
        return (major, minor, sms);
    }

    /// <summary>
    /// The primary context of device <paramref name="ordinal"/> (the one the CUDA runtime, hence LibTorch, uses),
    /// retained once per process: modules loaded into it see LibTorch's allocations.
    /// </summary>
    public static nint PrimaryContext(int ordinal)
    {
        int dev;
        nint ctx;
        Check(_cuDeviceGet(&dev, ordinal), "cuDeviceGet");
        Check(_cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
        return ctx;
    }

    /// <summary>
    /// Makes <paramref name="ctx"/> current on the calling thread (autograd runs backward on its own threads) and
    /// returns the context to restore afterwards, or 0 when nothing changed.
    /// </summary>
    public static nint MakeCurrent(nint ctx)
    {
        nint current;
        Check(_cuCtxGetCurrent(&current), "cuCtxGetCurrent");
        if (current == ctx)
            return 0;
        Check(_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        return current == 0 ? 0 : current;
    }

    public static void Restore(nint previous)
    {
        if (previous != 0)
            Check(_cuCtxSetCurrent(previous), "cuCtxSetCurrent");
    }

    /// <summary>Loads a cubin or PTX image into the current context.</summary>
    public static nint LoadModule(byte[] image)
    {
        nint module;
        fixed (byte* p = image)
            Check(_cuModuleLoadData(&module, p), "cuModuleLoadData");
        return module;
    }

    public static nint GetFunction(nint module, string name)
    {
        nint f;
        var bytes = Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* p = bytes)
            Check(_cuModuleGetFunction(&f, module, p), $"cuModuleGetFunction({name})");
        return f;
    }

    /// <summary>Launches a 1-D grid on the legacy default stream; <paramref name="args"/> point at each argument's value.</summary>
    public static void Launch(nint function, uint blocks, uint threads, void** args, string name) =>
        Check(_cuLaunchKernel(function, blocks, 1, 1, threads, 1, 1, 0, 0, args, null), $"cuLaunchKernel({name})");

    private static void Check(int rc, string what)
    {
        if (rc != Success)
            throw new InvalidOperationException($"CUDA driver call {what} failed: {ErrorString(rc)}");
    }

    private static string ErrorString(int rc)
    {
        if (_cuGetErrorString == null)
            return $"error {rc}";
        byte* s = null;
        return _cuGetErrorString(rc, &s) == Success && s != null
            ? $"{Marshal.PtrToStringAnsi((nint)s)} (error {rc})"
            : $"error {rc}";
    }
}
