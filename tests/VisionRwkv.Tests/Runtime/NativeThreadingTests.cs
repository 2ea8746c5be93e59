using System.Runtime.InteropServices;
using VisionRwkv.Runtime;

namespace VisionRwkv.Tests.Runtime;

public partial class NativeThreadingTests
{
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint getenv(string name);

    [Fact]
    public void The_spin_count_reaches_the_native_environment_and_a_user_setting_wins()
    {
        if (!OperatingSystem.IsLinux())
            return;
        // .NET's Environment keeps its own copy; libgomp reads the C environment, which is what is checked here.
        string? before = Marshal.PtrToStringUTF8(getenv("GOMP_SPINCOUNT"));
        NativeThreading.PrepareOpenMp();
        string? after = Marshal.PtrToStringUTF8(getenv("GOMP_SPINCOUNT"));
        Assert.Equal(Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") ?? before ?? "10000", after);
    }
}
