using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VisionRwkv.Runtime;

/// <summary>
/// Mixed precision as <c>torch.autocast</c> does it, which TorchSharp 0.107 lacks: inside <see cref="Enable"/> the
/// layers that call <see cref="Linear"/> multiply in the lower dtype (bfloat16) while their weights, their inputs
/// and outputs, and everything else (LayerNorm, the WKV core, the losses, the optimiser) stay float32. The casts are
/// ordinary autograd ops, so gradients reach the float32 weights as float32; the matrix products accumulate in float32
/// inside oneDNN / cuBLAS. Ambient (thread-static) like PyTorch's context manager, so that a trainer can switch a whole
/// model without threading a flag through every module.
/// Why: on a CPU with AVX512-BF16 (or AMX) the detection demo's epochs took 195-205 s against 255-262 s in float32
/// (README, "Mixed precision"); on a CPU without bfloat16 instructions it is emulated and slower, so it is off unless a
/// run asks for it (<c>train.precision: bfloat16</c>).
/// </summary>
public static class Autocast
{
    [ThreadStatic]
    private static ScalarType? current;

    /// <summary>The dtype linear layers compute in on this thread, or null (float32, no casts).</summary>
    public static ScalarType? Current => current;

    /// <summary>Computes linear layers in <paramref name="dtype"/> (null: float32) until the returned scope is disposed.</summary>
    public static IDisposable Enable(ScalarType? dtype)
    {
        if (dtype is ScalarType d && d != ScalarType.BFloat16 && d != ScalarType.Float16)
            throw new ArgumentException($"autocast to {d}: only bfloat16 or float16", nameof(dtype));
        var previous = current;
        current = dtype;
        return new Scope(previous);
    }

    /// <summary>
    /// <paramref name="layer"/>(x), multiplied in the ambient dtype when one is set and x is float32 or already in that
    /// dtype; the result is float32, or stays in the ambient dtype when <paramref name="keep"/> (for a value that only
    /// feeds the next product, such as the channel mix's hidden activations, so that it is not cast twice). Without an
    /// ambient dtype this is exactly <c>layer.call(x)</c>.
    /// </summary>
    public static Tensor Linear(Linear layer, Tensor x, bool keep = false)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(x);
        if (current is not ScalarType dtype || (x.dtype != ScalarType.Float32 && x.dtype != dtype)) return layer.call(x);
        using var scope = NewDisposeScope();
        var y = nn.functional.linear(x.to(dtype), layer.weight!.to(dtype), layer.bias?.to(dtype));
        return (keep ? y : y.to(ScalarType.Float32)).MoveToOuterDisposeScope();
    }

    /// <summary><paramref name="layer"/>(x) in the ambient dtype, as <see cref="Linear"/> does for a linear layer.</summary>
    public static Tensor Conv2d(Conv2d layer, Tensor x) =>
        Convolution(layer, x, (input, weight, bias) =>
            nn.functional.conv2d(input, weight, bias, layer.stride, layer.padding, layer.dilation, layer.groups));

    /// <summary><paramref name="layer"/>(x) in the ambient dtype, as <see cref="Linear"/> does for a linear layer.</summary>
    public static Tensor ConvTranspose2d(ConvTranspose2d layer, Tensor x) =>
        Convolution(layer, x, (input, weight, bias) =>
            nn.functional.conv_transpose2d(input, weight, bias, layer.stride, layer.padding, layer.output_padding, layer.dilation, layer.groups));

    /// <summary>
    /// The shared rule of the two convolutions: the layer's own call without an ambient dtype (or with a padding mode the
    /// functional form does not take), else <paramref name="op"/> on x, weight and bias cast down, the result cast back.
    /// </summary>
    private static Tensor Convolution(Convolution layer, Tensor x, Func<Tensor, Tensor, Tensor?, Tensor> op)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(x);
        bool zeroPadding = layer.padding_mode == PaddingModes.Zeros && layer.padding_type is null;
        if (current is not ScalarType dtype || x.dtype != ScalarType.Float32 || !zeroPadding) return layer.call(x);
        using var scope = NewDisposeScope();
        return op(x.to(dtype), layer.weight!.to(dtype), layer.bias?.to(dtype)).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A sequence of layers with its convolutions and linear layers in the ambient dtype (every other layer as it is);
    /// without an ambient dtype exactly <c>sequence.call(x)</c>.
    /// </summary>
    public static Tensor Sequential(Sequential sequence, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentNullException.ThrowIfNull(x);
        if (current is null) return sequence.call(x);
        using var scope = NewDisposeScope();
        foreach (var module in sequence.children())
        {
            x = module switch
            {
                Conv2d conv => Conv2d(conv, x),
                ConvTranspose2d deconv => ConvTranspose2d(deconv, x),
                TorchSharp.Modules.Linear linear => Linear(linear, x),
                nn.Module<Tensor, Tensor> layer => layer.call(x),
                _ => throw new NotSupportedException($"autocast: {module.GetType().Name} is not a Tensor -> Tensor layer"),
            };
        }
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>Parses a precision name: float32 (null, no autocast), bfloat16 / bf16, float16 / fp16.</summary>
    public static ScalarType? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or "float32" or "fp32" => null,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "half" => ScalarType.Float16,
        _ => throw new ArgumentException($"precision '{name}': expected float32, bfloat16 or float16"),
    };

    private sealed class Scope(ScalarType? previous) : IDisposable
    {
        private bool disposed;

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            current = previous;
        }
    }
}
