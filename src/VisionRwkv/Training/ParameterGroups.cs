using TorchSharp.Modules;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>Splits a model's parameters into a weight-decayed group and an undecayed group.</summary>
public static class ParameterGroups
{
    /// <summary>
    /// True when <paramref name="name"/> gets weight decay under <paramref name="config"/>: not when it belongs to a
    /// normalisation layer or is a bias (unless <see cref="TrainConfig.DecayNormAndBias"/>), not when it is any other
    /// tensor of at most one dimension (unless <see cref="TrainConfig.DecayOneDimensional"/>), and never when its name
    /// contains one of <see cref="TrainConfig.NoDecayNames"/>.
    /// </summary>
    public static bool GetsWeightDecay(string name, long dims, bool inNormLayer, TrainConfig config)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(config);
        if (config.NoDecayNames.Any(s => name.Contains(s, StringComparison.Ordinal))) return false;
        bool isBias = name == "bias" || name.EndsWith(".bias", StringComparison.Ordinal);
        if (inNormLayer || isBias) return config.DecayNormAndBias;
        if (dims <= 1) return config.DecayOneDimensional;
        return true;
    }

    /// <summary>Names of trainable parameters with and without weight decay, in the model's parameter order.</summary>
    public static (List<(string Name, Parameter Parameter)> Decay, List<(string Name, Parameter Parameter)> NoDecay) Split(
        nn.Module model, TrainConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        // A module counts as a normalisation layer by type name (LayerNorm, BatchNorm2d, GroupNorm, RMSNorm, ...),
        // which also catches model-defined norms that follow the naming convention.
        var normPrefixes = model.named_modules()
            .Where(m => m.name.Length > 0 && m.module.GetType().Name.Contains("Norm", StringComparison.Ordinal))
            .Select(m => m.name + ".")
            .ToList();
        var decay = new List<(string, Parameter)>();
        var noDecay = new List<(string, Parameter)>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!p.requires_grad) continue;
            bool inNorm = normPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal) && !name[prefix.Length..].Contains('.', StringComparison.Ordinal));
            (GetsWeightDecay(name, p.dim(), inNorm, config) ? decay : noDecay).Add((name, p));
        }
        return (decay, noDecay);
    }

    /// <summary>
    /// AdamW (fused, see <see cref="FusedAdamW"/>) over parameter groups, all options from <paramref name="config"/>, and
    /// each group's learning-rate multiplier (the trainer sets lr × multiplier every update). Without layers, or with
    /// <see cref="TrainConfig.BackboneLrScale"/> and <see cref="TrainConfig.LayerDecay"/> at 1, there are two groups,
    /// decayed first, each with multiplier 1. Otherwise parameters are grouped by (weight decay, multiplier), where the
    /// multiplier is LayerDecay^(L+1-layerId) times BackboneLrScale for parameters outside the head.
    /// </summary>
    public static (AdamW Optimizer, double[] LrScales) CreateAdamW(nn.Module model, TrainConfig config, ParameterLayers? layers = null,
        KernelOptions? kernels = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var (decay, noDecay) = Split(model, config);
        double Scale(string name)
        {
            if (layers is null) return 1.0;
            double s = layers.IsHead(name) ? 1.0 : config.BackboneLrScale;
            if (config.LayerDecay != 1.0)
                s *= Math.Pow(config.LayerDecay, layers.Count + 1 - layers.LayerOf(name));
            return s;
        }
        var groups = new List<AdamW.ParamGroup>();
        var scales = new List<double>();
        foreach (var (members, wd) in new[] { (decay, config.WeightDecay), (noDecay, 0.0) })
        {
            // Group by multiplier in order of first appearance, so the two-group layout stays when every multiplier is 1.
            foreach (var bucket in members.GroupBy(m => Scale(m.Name)))
            {
                groups.Add(new AdamW.ParamGroup(bucket.Select(d => d.Parameter), config.LearningRate * bucket.Key, config.Beta1, config.Beta2, config.Eps, wd, false, false));
                scales.Add(bucket.Key);
            }
        }
        if (groups.Count == 0)
            throw new ArgumentException("The model has no trainable parameters.");
        var optimizer = new FusedAdamW(groups, config.LearningRate, config.Beta1, config.Beta2, config.Eps, config.WeightDecay)
        {
            UseCudaKernel = (kernels ?? KernelOptions.Default).CudaAdamW,
        };
        return (optimizer, scales.ToArray());
    }
}

/// <summary>How a model's parameters map to depth, for layer-wise learning-rate decay and backbone scaling.</summary>
/// <param name="Count">L, the number of blocks.</param>
/// <param name="LayerOf">0 for embeddings, i+1 for block i, L+1 for the final norm and the head.</param>
/// <param name="IsHead">True for the classifier head's parameters.</param>
public sealed record ParameterLayers(int Count, Func<string, int> LayerOf, Func<string, bool> IsHead);
