using VisionRwkv.Benchmarks;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Benchmarks;

/// <summary>Process-wide memory figures: runs alone, after the parallel tests, so that no other test allocates meanwhile.</summary>
[CollectionDefinition(nameof(ProcessMemoryCollection), DisableParallelization = true)]
public sealed class ProcessMemoryCollection;

[Collection(nameof(ProcessMemoryCollection))]
public class MemoryProbeTests
{
    [Fact]
    public void Status_text_is_parsed_in_bytes()
    {
        const string status = "Name:\tdotnet\nVmPeak:\t  999 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t12\n";
        var m = ProcessMemoryProbe.ParseStatus(status);
        Assert.Equal(102400L * 1024, m.RssBytes);
        Assert.Equal(204800L * 1024, m.PeakRssBytes);
    }

    [Theory]
    [InlineData("VmRSS:\t 10 kB\n")]
    [InlineData("VmRSS:\t 10 kB\nVmHWM:\t lots kB\n")]
    [InlineData("VmRSS:\t 10 MB\nVmHWM:\t 10 kB\n")]
    public void Malformed_status_text_is_an_invalid_data_error(string status)
    {
        var e = Assert.Throws<InvalidDataException>(() => ProcessMemoryProbe.ParseStatus(status));
        Assert.Contains("/proc/self/status", e.Message, StringComparison.Ordinal);
    }

    [ClearRefsFact]
    public void The_high_water_mark_follows_a_large_allocation_and_resets_after_it_is_freed()
    {
        Assert.True(ProcessMemoryProbe.TryResetPeak());
        const long bytes = 256L << 20;
        var before = ProcessMemoryProbe.Read();
        using (var t = ones(bytes / 4, dtype: ScalarType.Float32))          // written, so resident
        {
            var during = ProcessMemoryProbe.Read();
            Assert.True(during.PeakRssBytes - before.PeakRssBytes > bytes * 3 / 4,
                $"VmHWM grew by {(during.PeakRssBytes - before.PeakRssBytes) >> 20} MiB for a {bytes >> 20} MiB tensor");
        }
        var freed = ProcessMemoryProbe.Read();
        Assert.True(freed.PeakRssBytes - freed.RssBytes > bytes * 3 / 4, "VmHWM forgot the freed tensor before any reset");
        Assert.True(ProcessMemoryProbe.TryResetPeak());
        var reset = ProcessMemoryProbe.Read();
        Assert.True(reset.PeakRssBytes - reset.RssBytes < bytes / 4,
            $"after the reset VmHWM is {reset.PeakRssBytes >> 20} MiB with VmRSS {reset.RssBytes >> 20} MiB");
    }
}

/// <summary>A fact skipped, with the reason shown, where /proc/self/clear_refs cannot reset the high-water mark.</summary>
internal sealed class ClearRefsFactAttribute : FactAttribute
{
    public ClearRefsFactAttribute()
    {
        if (!ProcessMemoryProbe.IsAvailable || !ProcessMemoryProbe.TryResetPeak())
            Skip = "needs Linux /proc/self/status and a writable /proc/self/clear_refs";
    }
}
