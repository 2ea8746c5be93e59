// Port of RWKV (GPT mode), BlinkDL/RWKV-LM RWKV-v4neo/src/model.py @524481d, and its RNN mode as in
// ChatRWKV rwkv_pip_package/src/rwkv/model.py.
using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Text;

/// <summary>
/// The RWKV-4 language model: <c>emb → blocks → ln_out → head</c> (no biases), with BlinkDL RWKV-LM's state_dict keys.
/// One set of weights runs in two modes: parallel over whole sequences (<see cref="forward"/>, <see cref="Forward(Tensor, RwkvState)"/>:
/// training and prompt ingestion, the WKV core's causal scan) and recurrent, one token at a time with an explicit
/// per-layer state (<see cref="Step"/>: generation at constant cost per token). Both give the same logits.
/// </summary>
public sealed class RwkvLm : nn.Module<Tensor, Tensor>, ILanguageModel
{
    private readonly Embedding emb;
    private readonly ModuleList<RwkvBlock> blocks;
    private readonly LayerNorm ln_out;
    private readonly Linear head;

    public RwkvLm(RwkvConfig config, string name = "rwkv4") : base(nameof(RwkvLm))
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.NLayer < 1 || config.NEmbd < 1 || config.DimFfn < 1 || config.VocabSize < 1)
            throw new ArgumentException($"invalid RWKV-4 config {config}", nameof(config));
        Config = config;
        Name = name;
        emb = nn.Embedding(config.VocabSize, config.NEmbd);
        blocks = new ModuleList<RwkvBlock>();
        for (int i = 0; i < config.NLayer; i++)
            blocks.Add(new RwkvBlock(config, i));
        ln_out = nn.LayerNorm(config.NEmbd);
        head = nn.Linear(config.NEmbd, config.VocabSize, hasBias: false);
        RegisterComponents();
        using (no_grad())
        {
            // RWKV-v4neo generate_init_weight: tiny embeddings (ln0 normalises them), an orthogonal head of gain 0.5·√(V/C).
            nn.init.uniform_(emb.weight!, -1e-4, 1e-4);
            nn.init.orthogonal_(head.weight!, gain: 0.5 * Math.Sqrt(Math.Max(1.0, (double)config.VocabSize / config.NEmbd)));
        }
    }

    public RwkvConfig Config { get; }

    public string Name { get; }

    public int VocabSize => Config.VocabSize;

    public long? MaxContext => null;

    public nn.Module<Tensor, Tensor> Module => this;

    /// <summary>Parallel mode from the empty state: tokens [B,T] (int64) -> logits [B,T,V]. What training calls.</summary>
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var x = emb.call(tokens);                                                // [B,T,C]
        foreach (var block in blocks) x = block.call(x);
        return head.call(ln_out.call(x)).MoveToOuterDisposeScope();              // [B,T,V]
    }

    /// <summary>
    /// Parallel mode continuing from <paramref name="state"/> (the empty state when null): tokens [B,T] -> logits
    /// [B,T,V] and the state after the last token. A prompt ingested this way and continued with <see cref="Step"/>
    /// gives the logits of feeding every token through <see cref="Step"/>.
    /// </summary>
    public (Tensor Logits, RwkvState State) Forward(Tensor tokens, RwkvState? state = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        CheckTokens(tokens, 2);
        CheckState(state, tokens.shape[0]);
        using var scope = NewDisposeScope();
        var x = emb.call(tokens);                                                // [B,T,C]
        var layers = new RwkvLayerState[blocks.Count];
        for (int i = 0; i < blocks.Count; i++)
            (x, layers[i]) = blocks[i].Forward(x, state?.Layers[i]);
        var logits = head.call(ln_out.call(x));                                  // [B,T,V]
        var next = new RwkvState(layers, (state?.Tokens ?? 0) + tokens.shape[1]);
        next.MoveToOuterDisposeScope();
        return (logits.MoveToOuterDisposeScope(), next);
    }

    /// <summary>Recurrent mode: tokens [B] (int64) -> logits [B,V] and the next state (the initial one when null).</summary>
    public (Tensor Logits, RwkvState State) Step(Tensor tokens, RwkvState? state)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        CheckTokens(tokens, 1);
        CheckState(state, tokens.shape[0]);
        using var scope = NewDisposeScope();
        state ??= InitialState(tokens.shape[0]);
        var x = emb.call(tokens);                                                // [B,C]
        var layers = new RwkvLayerState[blocks.Count];
        for (int i = 0; i < blocks.Count; i++)
            (x, layers[i]) = blocks[i].Step(x, state.Layers[i]);
        var logits = head.call(ln_out.call(x));                                  // [B,V]
        var next = new RwkvState(layers, state.Tokens + 1);
        next.MoveToOuterDisposeScope();
        return (logits.MoveToOuterDisposeScope(), next);
    }

    /// <summary>The state before any token, on the model's device and in its dtype.</summary>
    public RwkvState InitialState(long batch)
    {
        var w = emb.weight!;
        return RwkvState.Initial(Config, batch, w.device, w.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32);
    }

    (Tensor Logits, ILanguageModelState State) ILanguageModel.Prefill(Tensor tokens, ILanguageModelState? state) =>
        Forward(tokens, AsRwkv(state));

    (Tensor Logits, ILanguageModelState State) ILanguageModel.Step(Tensor tokens, ILanguageModelState? state) =>
        Step(tokens, AsRwkv(state));

    private static RwkvState? AsRwkv(ILanguageModelState? state) => state switch
    {
        null => null,
        RwkvState s => s,
        _ => throw new ArgumentException($"an RWKV-4 model continues from an RwkvState, not a {state.GetType().Name}", nameof(state)),
    };

    private void CheckTokens(Tensor tokens, int dims)
    {
        if (tokens.dim() != dims || tokens.dtype != ScalarType.Int64)
            throw new ArgumentException($"{Name}: expected int64 token ids of shape {(dims == 2 ? "[B,T]" : "[B]")}; got {tokens.dtype} [{string.Join(",", tokens.shape)}]", nameof(tokens));
        if (tokens.numel() == 0)
            throw new ArgumentException($"{Name}: no tokens", nameof(tokens));
    }

    private void CheckState(RwkvState? state, long batch)
    {
        if (state is null) return;
        if (state.Layers.Count != Config.NLayer || state.Channels != Config.NEmbd || state.Batch != batch)
            throw new ArgumentException($"{Name}: state has {state.Layers.Count} layers x [{state.Batch},{state.Channels}], the model needs {Config.NLayer} x [{batch},{Config.NEmbd}]", nameof(state));
    }
}
