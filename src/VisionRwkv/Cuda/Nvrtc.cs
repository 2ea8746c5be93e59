using System.Runtime.InteropServices;
using System.Text;

namespace VisionRwkv.Cuda;

/// <summary>
/// NVRTC, CUDA's run-time compiler, found where a CUDA install or a PyTorch wheel keeps it and called through function
/// pointers. Search order: the file named by <c>RWKV_NVRTC</c>; a libnvrtc this process already mapped; the folders
/// of <c>LD_LIBRARY_PATH</c> and of the loaded LibTorch libraries, each with the <c>nvidia/*/lib</c> folders of the
/// pip packages beside them (<c>site-packages/torch/lib/../../nvidia/cuda_nvrtc/lib</c>, <c>nvidia/cu13/lib</c>);
/// <c>CUDA_HOME</c>/<c>CUDA_PATH</c> and <c>/usr/local/cuda</c>; last the loader's default search.
/// </summary>
internal static unsafe class Nvrtc
{
    private const int Success = 0;

    private static readonly object Gate = new();
    private static bool _tried;
    private static string? _path;
    private static string? _loadError;

    private static delegate* unmanaged<int*, int*, int> _nvrtcVersion;
    private static delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> _nvrtcCreateProgram;
    private static delegate* unmanaged<nint, int, byte**, int> _nvrtcCompileProgram;
    private static delegate* unmanaged<nint, nuint*, int> _nvrtcGetProgramLogSize;
    private static delegate* unmanaged<nint, byte*, int> _nvrtcGetProgramLog;
    private static delegate* unmanaged<nint, nuint*, int> _nvrtcGetCUBINSize;
    private static delegate* unmanaged<nint, byte*, int> _nvrtcGetCUBIN;
    private static delegate* unmanaged<nint, nuint*, int> _nvrtcGetPTXSize;
    private static delegate* unmanaged<nint, byte*, int> _nvrtcGetPTX;
    private static delegate* unmanaged<nint*, int> _nvrtcDestroyProgram;
    private static delegate* unmanaged<int, byte*> _nvrtcGetErrorString;

    /// <summary>The file NVRTC was loaded from (after a successful <see cref="TryLoad"/>).</summary>
    public static string? LoadedFrom => _path;

    public static bool TryLoad(out string? error)
    {
        lock (Gate)
        {
            if (!_tried)
            {
                _tried = true;
                _loadError = Load();
            }
            error = _loadError;
            return _loadError is null;
        }
    }

    public static string Version()
    {
        int major, minor;
        Check(_nvrtcVersion(&major, &minor), "nvrtcVersion");
        return $"{major}.{minor}";
    }

    /// <summary>
    /// Compiles <paramref name="source"/> for compute capability major.minor: a cubin for that exact chip, or PTX
    /// for it when this NVRTC cannot emit its machine code (the driver then compiles the PTX when loading).
    /// </summary>
    public static byte[] Compile(string source, string name, int major, int minor)
    {
        var errors = new List<string>();
        foreach (var cubin in new[] { true, false })
        {
            string arch = cubin ? $"sm_{major}{minor}" : $"compute_{major}{minor}";
            try
            {
                return CompileOnce(source, name, [$"--gpu-architecture={arch}", "--std=c++17"], cubin);
            }
            catch (InvalidOperationException e)
            {
                errors.Add($"{arch}: {e.Message}");
            }
        }
        throw new InvalidOperationException($"NVRTC could not compile {name}: {string.Join("; ", errors)}");
    }

    private static byte[] CompileOnce(string source, string name, string[] options, bool cubin)
    {
        nint prog;
        var src = Encoding.UTF8.GetBytes(source + "\0");
        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* s = src, n = nameBytes)
            Check(_nvrtcCreateProgram(&prog, s, n, 0, null, null), "nvrtcCreateProgram");
        try
        {
            var opts = options.Select(o => Marshal.StringToHGlobalAnsi(o)).ToArray();
            int rc;
            try
            {
                fixed (nint* o = opts)
                    rc = _nvrtcCompileProgram(prog, opts.Length, (byte**)o);
            }
            finally
            {
                foreach (var o in opts)
                    Marshal.FreeHGlobal(o);
            }
            if (rc != Success)
                throw new InvalidOperationException($"{ErrorString(rc)} with {string.Join(" ", options)}:\n{Log(prog)}");
            nuint size;
            Check(cubin ? _nvrtcGetCUBINSize(prog, &size) : _nvrtcGetPTXSize(prog, &size), "nvrtcGet*Size");
            var image = new byte[size];
            fixed (byte* p = image)
                Check(cubin ? _nvrtcGetCUBIN(prog, p) : _nvrtcGetPTX(prog, p), "nvrtcGet*");
            return image;
        }
        finally
        {
            _nvrtcDestroyProgram(&prog);
        }
    }

    private static string Log(nint prog)
    {
        nuint size;
        if (_nvrtcGetProgramLogSize(prog, &size) != Success || size <= 1)
            return "(no log)";
        var log = new byte[size];
        fixed (byte* p = log)
            _nvrtcGetProgramLog(prog, p);
        return Encoding.UTF8.GetString(log, 0, (int)size - 1);
    }

    private static string? Load()
    {
        var tried = new List<string>();
        foreach (var candidate in Candidates())
        {
            tried.Add(candidate);
            if (!NativeLibrary.TryLoad(candidate, out var lib))
                continue;
            try
            {
                Bind(lib);
                _path = candidate;
                return null;
            }
            catch (EntryPointNotFoundException)
            {
                // Not a usable NVRTC (e.g. a stub): keep looking.
            }
        }
        return "NVRTC (libnvrtc.so) was not found; set RWKV_NVRTC to its path. Tried: " +
               string.Join(", ", tried.Take(12)) + (tried.Count > 12 ? $" and {tried.Count - 12} more" : "");
    }

    private static void Bind(nint lib)
    {
        _nvrtcVersion = (delegate* unmanaged<int*, int*, int>)NativeLibrary.GetExport(lib, "nvrtcVersion");
        _nvrtcCreateProgram = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)
            NativeLibrary.GetExport(lib, "nvrtcCreateProgram");
        _nvrtcCompileProgram = (delegate* unmanaged<nint, int, byte**, int>)NativeLibrary.GetExport(lib, "nvrtcCompileProgram");
        _nvrtcGetProgramLogSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibrary.GetExport(lib, "nvrtcGetProgramLogSize");
        _nvrtcGetProgramLog = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(lib, "nvrtcGetProgramLog");
        _nvrtcGetCUBINSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibrary.GetExport(lib, "nvrtcGetCUBINSize");
        _nvrtcGetCUBIN = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(lib, "nvrtcGetCUBIN");
        _nvrtcGetPTXSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibrary.GetExport(lib, "nvrtcGetPTXSize");
        _nvrtcGetPTX = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(lib, "nvrtcGetPTX");
        _nvrtcDestroyProgram = (delegate* unmanaged<nint*, int>)NativeLibrary.GetExport(lib, "nvrtcDestroyProgram");
        _nvrtcGetErrorString = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(lib, "nvrtcGetErrorString");
    }

    /// <summary>Paths to try, most specific first, without duplicates.</summary>
    private static IEnumerable<string> Candidates()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var list = new List<string>();
        void Add(string p)
        {
            if (seen.Add(p))
                list.Add(p);
        }
        void AddDir(string? dir)
        {
            if (string.IsNullOrEmpty(dir) || !Directory.Exists(dir))
                return;
            foreach (var f in LibrariesIn(dir))
                Add(f);
            // A PyTorch wheel's torch/lib sits two levels below site-packages, where the nvidia-* packages live.
            var sitePackages = Path.GetFullPath(Path.Combine(dir, "..", ".."));
            var nvidia = Path.Combine(sitePackages, "nvidia");
            if (Directory.Exists(nvidia))
                foreach (var sub in Directory.EnumerateDirectories(nvidia).Order(StringComparer.Ordinal))
                    foreach (var f in LibrariesIn(Path.Combine(sub, "lib")))
                        Add(f);
        }

        if (Environment.GetEnvironmentVariable("RWKV_NVRTC") is { Length: > 0 } explicitPath)
            Add(explicitPath);
        var mapped = MappedLibraries().ToList();
        foreach (var m in mapped.Where(m => IsNvrtc(Path.GetFileName(m))))
            Add(m);
        foreach (var dir in (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':'))
            AddDir(dir);
        foreach (var m in mapped.Where(m => Path.GetFileName(m).StartsWith("libtorch", StringComparison.Ordinal) ||
                                            Path.GetFileName(m).StartsWith("libc10", StringComparison.Ordinal)))
            AddDir(Path.GetDirectoryName(m));
        foreach (var home in new[] { Environment.GetEnvironmentVariable("CUDA_HOME"), Environment.GetEnvironmentVariable("CUDA_PATH"), "/usr/local/cuda" })
            if (!string.IsNullOrEmpty(home))
            {
                AddDir(Path.Combine(home, "lib64"));
                AddDir(Path.Combine(home, "targets", "x86_64-linux", "lib"));
            }
        AddDir("/usr/lib/x86_64-linux-gnu");
        foreach (var name in new[] { "libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2" })
            Add(name);
        return list;
    }

    /// <summary>libnvrtc.so* in a folder (not the builtins library), newest-looking names first.</summary>
    private static IEnumerable<string> LibrariesIn(string dir)
    {
        if (!Directory.Exists(dir))
            return [];
        try
        {
            return Directory.EnumerateFiles(dir, "libnvrtc.so*").Where(f => IsNvrtc(Path.GetFileName(f)))
                .OrderByDescending(f => f, StringComparer.Ordinal).ToList();
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static bool IsNvrtc(string fileName) =>
        fileName.StartsWith("libnvrtc.so", StringComparison.Ordinal) && !fileName.Contains("builtins", StringComparison.Ordinal);

    /// <summary>Shared libraries this process has mapped (Linux /proc/self/maps); empty elsewhere.</summary>
    private static IEnumerable<string> MappedLibraries()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
            return [];
        try
        {
            return File.ReadLines(maps)
                .Select(line => line.IndexOf('/', StringComparison.Ordinal) is var i and >= 0 ? line[i..].Trim() : "")
                .Where(p => p.Contains(".so", StringComparison.Ordinal))
                .Distinct(StringComparer.Ordinal).ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }

    private static void Check(int rc, string what)
    {
        if (rc != Success)
            throw new InvalidOperationException($"NVRTC call {what} failed: {ErrorString(rc)}");
    }

    private static string ErrorString(int rc)
    {
        var s = _nvrtcGetErrorString == null ? null : _nvrtcGetErrorString(rc);
        return s == null ? $"error {rc}" : $"{Marshal.PtrToStringAnsi((nint)s)} (error {rc})";
    }
}
