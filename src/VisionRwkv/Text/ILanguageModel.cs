using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Text;

/// <summary>
/// What a causal language model keeps between calls: RWKV's fixed-size recurrent state, or a Transformer's key/value
/// cache that grows with the context. Owned by the caller (dispose it); a model's Step may update a cache in place
/// and return the same object, so always continue with the state a call returns.
/// </summary>
public interface ILanguageModelState : IDisposable
{
    /// <summary>Tokens seen so far.</summary>
    long Tokens { get; }

    /// <summary>Bytes of tensor memory the state holds (what generation carries from token to token).</summary>
    long Bytes { get; }

    /// <summary>Moves the state's tensors to the enclosing dispose scope and returns this.</summary>
    ILanguageModelState MoveToOuterDisposeScope();
}

/// <summary>
/// The surface shared by the RWKV-4 language model and the GPT baseline, so that evaluation, generation and the
/// benchmark treat them alike. Training needs only the module's forward: token ids [B,T] (int64) to logits [B,T,V],
/// and <see cref="LanguageModelLoss.CrossEntropy"/>.
/// </summary>
public interface ILanguageModel : IDisposable
{
    /// <summary>Preset or file name, for messages.</summary>
    string Name { get; }

    int VocabSize { get; }

    /// <summary>The longest context the model can attend to, or null when unbounded (RWKV).</summary>
    long? MaxContext { get; }

    /// <summary>The module (for parameters, train/eval, device moves and the training loop).</summary>
    nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>
    /// Parallel ("GPT mode"): tokens [B,T] (int64) after <paramref name="state"/> (the empty context when null)
    /// to logits [B,T,V] at every position and the state after the last token.
    /// </summary>
    (Tensor Logits, ILanguageModelState State) Prefill(Tensor tokens, ILanguageModelState? state = null);

    /// <summary>One token per sequence: tokens [B] (int64) to logits [B,V] and the next state.</summary>
    (Tensor Logits, ILanguageModelState State) Step(Tensor tokens, ILanguageModelState? state);
}

/// <summary>The training loss shared by both models.</summary>
public static class LanguageModelLoss
{
    /// <summary>Mean cross-entropy over all B·T positions: logits [B,T,V], targets [B,T] (int64) -> scalar.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        long v = logits.shape[^1];
        using var flatLogits = logits.reshape(-1, v);                          // [B·T,V]
        using var flatTargets = targets.reshape(-1);                           // [B·T]
        return nn.functional.cross_entropy(flatLogits, flatTargets);
    }
}
