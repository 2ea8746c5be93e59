using System.Runtime.InteropServices;

namespace VisionRwkv.Datasets.Imaging.Native;

/// <summary>
/// Loads a system codec library (libjpeg-turbo, OpenJPEG, CharLS) by its usual file names and looks up the exports a
/// binding needs. Every binding of the project goes through here, so the names and the all-or-nothing rule live once.
/// </summary>
internal static class NativeExports
{
    /// <summary>A library's file names on Linux, macOS and Windows, most specific first.</summary>
    public sealed record Library(string[] Linux, string[] MacOS, string[] Windows)
    {
        public IEnumerable<string> Names => OperatingSystem.IsWindows() ? Windows : OperatingSystem.IsMacOS() ? MacOS : Linux;
    }

    public static Library TurboJpeg { get; } = new(["libturbojpeg.so.0", "libturbojpeg.so"], ["libturbojpeg.dylib", "libturbojpeg.0.dylib"], ["turbojpeg.dll"]);

    public static Library OpenJpeg { get; } = new(["libopenjp2.so.7", "libopenjp2.so"], ["libopenjp2.7.dylib", "libopenjp2.dylib"], ["openjp2.dll"]);

    public static Library CharLs { get; } = new(["libcharls.so.2", "libcharls.so"], ["libcharls.2.dylib", "libcharls.dylib"], ["charls-2-x64.dll", "charls.dll"]);

    /// <summary>
    /// The addresses of <paramref name="exports"/>, in order, from the first of the library's names that loads and
    /// exports all of them; null when none does (the caller then reports the codec as unavailable).
    /// </summary>
    public static IntPtr[]? Load(Library library, params string[] exports)
    {
        ArgumentNullException.ThrowIfNull(library);
        foreach (var name in library.Names)
        {
            if (!NativeLibrary.TryLoad(name, out var lib))
                continue;
            var found = new IntPtr[exports.Length];
            bool all = true;
            for (int i = 0; i < exports.Length && all; i++)
                all = NativeLibrary.TryGetExport(lib, exports[i], out found[i]);
            if (all)
                return found;
        }
        return null;
    }
}
