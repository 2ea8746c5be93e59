using System.Runtime.InteropServices;
using VisionRwkv.Runtime;

namespace VisionRwkv.Tests.Runtime;

public partial class NativeRuntimeTests
{
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint getenv(string name);

    [Theory]
    [InlineData("GOMP_SPINCOUNT", "10000")]
    [InlineData("THP_MEM_ALLOC_ENABLE", "1")]
    public void Each_setting_reaches_the_native_environment_and_a_user_setting_wins(string name, string value)
    {
        if (!OperatingSystem.IsLinux())
            return;
        // .NET's Environment keeps its own copy; libgomp and LibTorch read the C environment, which is what is checked.
        string? before = Marshal.PtrToStringUTF8(getenv(name));
        NativeRuntime.Prepare();
        string? after = Marshal.PtrToStringUTF8(getenv(name));
        Assert.Equal(Environment.GetEnvironmentVariable(name) ?? before ?? value, after);
    }

    [Fact]
    public void A_default_fills_an_unset_variable_and_never_replaces_a_set_one()
    {
        if (!OperatingSystem.IsLinux())
            return;
        string name = "RWKV_TEST_" + Guid.NewGuid().ToString("N");
        Assert.Null(Marshal.PtrToStringUTF8(getenv(name)));
        NativeRuntime.SetDefault(name, "first");
        Assert.Equal("first", Marshal.PtrToStringUTF8(getenv(name)));
        NativeRuntime.SetDefault(name, "second");
        Assert.Equal("first", Marshal.PtrToStringUTF8(getenv(name)));
    }
}
