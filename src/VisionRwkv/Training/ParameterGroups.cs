using TorchSharp.Modules;
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

    /// <summary>AdamW (fused, see <see cref="FusedAdamW"/>) over the two groups (decayed group first), all options from <paramref name="config"/>.</summary>
    public static AdamW CreateAdamW(nn.Module model, TrainConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var (decay, noDecay) = Split(model, config);
        var groups = new List<AdamW.ParamGroup>();
        if (decay.Count > 0)
            groups.Add(new AdamW.ParamGroup(decay.Select(d => d.Parameter), config.LearningRate, config.Beta1, config.Beta2, config.Eps, config.WeightDecay, false, false));
        if (noDecay.Count > 0)
            groups.Add(new AdamW.ParamGroup(noDecay.Select(d => d.Parameter), config.LearningRate, config.Beta1, config.Beta2, config.Eps, 0.0, false, false));
        if (groups.Count == 0)
            throw new ArgumentException("The model has no trainable parameters.");
        return new FusedAdamW(groups, config.LearningRate, config.Beta1, config.Beta2, config.Eps, config.WeightDecay);
    }
}
