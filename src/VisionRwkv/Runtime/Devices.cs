using static TorchSharp.torch;

namespace VisionRwkv.Runtime;

/// <summary>Device names as users give them.</summary>
public static class Devices
{
    /// <summary>"auto" becomes cuda when TorchSharp finds a CUDA LibTorch, else cpu; "cuda" without one is an error.</summary>
    public static string Resolve(string requested) => requested switch
    {
        "auto" => cuda.is_available() ? "cuda" : "cpu",
        _ when requested.StartsWith("cuda", StringComparison.Ordinal) && !cuda.is_available() =>
            throw new InvalidOperationException($"device {requested}: TorchSharp found no CUDA LibTorch on this machine"),
        _ => requested,
    };
}
