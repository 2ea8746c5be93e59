using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Wkv;
using static TorchSharp.torch;

namespace VisionRwkv.Text;

/// <summary>
/// One block's recurrent state, each [B,C]: the previous token's ln1 output (time-mix token shift), the WKV sums
/// (numerator, denominator, log-scale) and the previous token's ln2 output (channel-mix token shift).
/// </summary>
public sealed record RwkvLayerState(Tensor AttShift, Wkv4State Wkv, Tensor FfnShift) : IDisposable
{
    public void Dispose()
    {
        AttShift.Dispose();
        Wkv.Dispose();
        FfnShift.Dispose();
    }

    internal RwkvLayerState MoveToOuterDisposeScope()
    {
        AttShift.MoveToOuterDisposeScope();
        Wkv.MoveToOuterDisposeScope();
        FfnShift.MoveToOuterDisposeScope();
        return this;
    }

    internal RwkvLayerState Detach() => new(AttShift.detach(), Wkv.Detach(), FfnShift.detach());
}

/// <summary>
/// The RWKV-4 language model's state after some tokens: one <see cref="RwkvLayerState"/> per block. Its size does not
/// depend on the number of tokens: 5·L·C floats per sequence.
/// <para>
/// Tensor layout (<see cref="ToTensor"/>, the <c>state</c> tensor of state files and of <c>rwkv text logits</c>):
/// float32 [n_layer, 5, B, C] with ChatRWKV's order of the five vectors per layer: 0 = att token shift (ln1 output of
/// the last token), 1 = WKV numerator aa, 2 = WKV denominator bb, 3 = WKV log-scale pp (-1e30 when empty), 4 = ffn
/// token shift (ln2 output of the last token). The real WKV sums are aa·e^pp and bb·e^pp.
/// </para>
/// </summary>
public sealed class RwkvState : ILanguageModelState
{
    /// <summary>The value of <c>format</c> in a state file's metadata.</summary>
    public const string FileFormat = "rwkv4-state";

    public RwkvState(IReadOnlyList<RwkvLayerState> layers, long tokens)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0) throw new ArgumentException("a state needs at least one layer", nameof(layers));
        Layers = layers;
        Tokens = tokens;
    }

    public IReadOnlyList<RwkvLayerState> Layers { get; }

    public long Tokens { get; }

    public long Batch => Layers[0].AttShift.shape[0];

    public long Channels => Layers[0].AttShift.shape[1];

    public long Bytes => Layers.Sum(l => (l.AttShift.numel() + l.Wkv.Num.numel() + l.Wkv.Den.numel() + l.Wkv.MaxLog.numel() + l.FfnShift.numel())
                                           * l.AttShift.element_size());

    /// <summary>The state before any token: zero shifts, empty WKV sums.</summary>
    public static RwkvState Initial(RwkvConfig config, long batch, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentNullException.ThrowIfNull(config);
        var layers = new RwkvLayerState[config.NLayer];
        for (int i = 0; i < layers.Length; i++)
        {
            var wkv = Wkv4.InitialState(batch, config.NEmbd, device);
            if (dtype == ScalarType.Float64)
                wkv = new Wkv4State(wkv.Num.to(dtype), wkv.Den.to(dtype), wkv.MaxLog.to(dtype));
            layers[i] = new RwkvLayerState(zeros(batch, config.NEmbd, dtype, device), wkv, zeros(batch, config.NEmbd, dtype, device));
        }
        return new RwkvState(layers, 0);
    }

    /// <summary>[n_layer, 5, B, C] float32 in ChatRWKV's order (see the class summary).</summary>
    public Tensor ToTensor()
    {
        using var scope = NewDisposeScope();
        var perLayer = Layers.Select(l => stack([l.AttShift, l.Wkv.Num, l.Wkv.Den, l.Wkv.MaxLog, l.FfnShift]).to(ScalarType.Float32)).ToArray();
        return stack(perLayer).MoveToOuterDisposeScope();                       // [L,5,B,C]
    }

    /// <summary>The inverse of <see cref="ToTensor"/>: [n_layer, 5, B, C] (any float dtype) to a state on its device.</summary>
    public static RwkvState FromTensor(Tensor t, long tokens = 0, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.dim() != 4 || t.shape[1] != 5)
            throw new ArgumentException($"an RWKV-4 state tensor is [n_layer, 5, B, C]; got [{string.Join(",", t.shape)}]", nameof(t));
        var layers = new RwkvLayerState[t.shape[0]];
        for (int i = 0; i < layers.Length; i++)
        {
            Tensor Part(int j) => t[i, j].to(dtype).clone();
            layers[i] = new RwkvLayerState(Part(0), new Wkv4State(Part(1), Part(2), Part(3)), Part(4));
        }
        return new RwkvState(layers, tokens);
    }

    /// <summary>Writes the state to a safetensors file (tensor <c>state</c>, see the class summary), atomically.</summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var t = ToTensor();
        using var cpu = t.cpu();
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
        {
            ["format"] = FileFormat,
            ["layout"] = "state [n_layer, 5, B, C] float32; per layer 0=att_shift 1=wkv_num(aa) 2=wkv_den(bb) 3=wkv_logscale(pp) 4=ffn_shift",
            ["n_layer"] = Layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["n_embd"] = Channels.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["tokens"] = Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        SafeTensors.Write(path, new Dictionary<string, Tensor> { ["state"] = cpu }, meta);
    }

    /// <summary>Reads a state written by <see cref="Save"/>; checks it against the model's config when given.</summary>
    public static RwkvState Load(string path, RwkvConfig? config = null, Device? device = null)
    {
        using var file = SafeTensors.Read(path);
        if (!file.Tensors.TryGetValue("state", out var t))
            throw new InvalidDataException($"{path}: no 'state' tensor (an RWKV-4 state file holds state [n_layer, 5, B, C])");
        if (t.dim() != 4 || t.shape[1] != 5)
            throw new InvalidDataException($"{path}: 'state' is [{string.Join(",", t.shape)}], expected [n_layer, 5, B, C]");
        if (config is not null && (t.shape[0] != config.NLayer || t.shape[3] != config.NEmbd))
            throw new InvalidDataException($"{path}: state is for {t.shape[0]} layers of width {t.shape[3]}, the model has {config.NLayer} of width {config.NEmbd}");
        long tokens = file.Metadata.TryGetValue("tokens", out var s) && long.TryParse(s, out var n) ? n : 0;
        using var moved = device is null ? t.alias() : t.to(device);
        return FromTensor(moved, tokens);
    }

    /// <summary>A copy cut off from the autograd graph (truncated backpropagation through time).</summary>
    public RwkvState Detach() => new(Layers.Select(l => l.Detach()).ToArray(), Tokens);

    public ILanguageModelState MoveToOuterDisposeScope()
    {
        foreach (var l in Layers) l.MoveToOuterDisposeScope();
        return this;
    }

    public void Dispose()
    {
        foreach (var l in Layers) l.Dispose();
    }
}
