using static TorchSharp.torch;

using VisionRwkv.Datasets;
namespace VisionRwkv.Models;

/// <summary>
/// The surface every classifier in the toolkit offers (timm's forward_features / forward_head / forward), so that
/// training, evaluation, benchmarks and saliency treat Vision-RWKV and the ViT baseline alike.
/// The module itself is a <c>Module&lt;Tensor,Tensor&gt;</c> mapping [B,Cin,H,W] images to [B,K] logits.
/// </summary>
public interface IImageClassifier
{
    /// <summary>Registry name (vrwkv_t, vit_t, ...).</summary>
    string Name { get; }

    int NumClasses { get; }

    /// <summary>Preprocessing the model expects.</summary>
    DataConfig Data { get; }

    /// <summary>[B,Cin,H,W] → [B,N,C] tokens after the final norm.</summary>
    Tensor ForwardFeatures(Tensor images);

    /// <summary>[B,N,C] tokens → [B,K] logits.</summary>
    Tensor ForwardHead(Tensor features);

    /// <summary>Number of blocks L (for layer-wise learning-rate decay).</summary>
    int LayerCount { get; }

    /// <summary>
    /// The depth of a parameter for layer-wise learning-rate decay, timm's convention: 0 for the embeddings, i+1 for
    /// block i, L+1 for the final norm and the head.
    /// </summary>
    int LayerIdOf(string parameterName);

    /// <summary>True for the classifier head's parameters (the only ones a linear probe trains).</summary>
    bool IsHead(string parameterName);
}
