using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VisionRwkv.Models;

/// <summary>mmcls LinearClsHead: one Linear named <c>fc</c> (keys head.fc.weight, head.fc.bias).</summary>
public sealed class ClsHead : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc;

    public ClsHead(int inFeatures, int numClasses) : base(nameof(ClsHead))
    {
        fc = nn.Linear(inFeatures, numClasses);
        RegisterComponents();
    }

    /// <param name="x">[B,C] pooled features.</param>
    /// <returns>[B,K] logits.</returns>
    public override Tensor forward(Tensor x) => fc.call(x);
}
