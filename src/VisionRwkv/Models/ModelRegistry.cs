using VisionRwkv.Models.Vit;
using VisionRwkv.Runtime;
using VisionRwkv.Datasets;
using static TorchSharp.torch;

namespace VisionRwkv.Models;

/// <summary>Named model presets, as timm's registry: create any classifier by name.</summary>
public static class ModelRegistry
{
    /// <summary>
    /// A preset: its name, a line about it, a factory (class count, kernel choices), its preprocessing and, for
    /// Vision-RWKV presets, the architecture (what a detector builds its backbone from).
    /// </summary>
    public sealed record Entry(string Name, string Description, Func<int?, KernelOptions?, nn.Module<Tensor, Tensor>> Factory, DataConfig Data, VrwkvConfig? Vrwkv = null)
    {
        /// <summary>The model with its preset class count, or <paramref name="numClasses"/>; every fused kernel allowed.</summary>
        public nn.Module<Tensor, Tensor> Create(int? numClasses = null, KernelOptions? kernels = null) => Factory(numClasses, kernels);
    }

    private static readonly Entry[] Entries =
    [
        Vrwkv("vrwkv_t", "Vision-RWKV-T (ImageNet-1K 224, 6.2M params, 75.1 top-1)", VrwkvConfig.Tiny),
        Vrwkv("vrwkv_s", "Vision-RWKV-S (ImageNet-1K 224, 23.8M params, 80.1 top-1)", VrwkvConfig.Small),
        Vrwkv("vrwkv_b", "Vision-RWKV-B (ImageNet-1K 224, 93.7M params, 82.0 top-1)", VrwkvConfig.Base),
        Vrwkv("vrwkv_l", "Vision-RWKV-L (ImageNet-22K→1K 384, 334.9M params, 86.0 top-1)", VrwkvConfig.Large),
        Vrwkv("vrwkv_mini_28", "Small Vision-RWKV for 28x28 grayscale (Fashion-MNIST)", VrwkvConfig.Mini28),
        Vrwkv("vrwkv_mini_64", "Small Vision-RWKV for 64x64 grayscale (the synthetic X-ray demo)", VrwkvConfig.Mini64),
        Vrwkv("vrwkv_mini_32", "Small Vision-RWKV for 32x32 RGB (CIFAR-like)", VrwkvConfig.Mini32),
        Vit("vit_t", "ViT/DeiT-Tiny baseline (224, 5.7M params)", VitConfig.Tiny),
        Vit("vit_s", "ViT/DeiT-Small baseline (224, 22M params)", VitConfig.Small),
        Vit("vit_mini_28", "Small ViT for 28x28 grayscale, the counterpart of vrwkv_mini_28", VitConfig.Mini28),
    ];

    public static IReadOnlyList<Entry> All => Entries;

    public static Entry Get(string name) =>
        Entries.FirstOrDefault(e => e.Name == name)
        ?? throw new ArgumentException($"unknown model '{name}'; known: {string.Join(", ", Entries.Select(e => e.Name))}");

    /// <summary>Creates the named model, optionally with another number of classes.</summary>
    public static nn.Module<Tensor, Tensor> Create(string name, int? numClasses = null, KernelOptions? kernels = null) =>
        Get(name).Create(numClasses, kernels);

    private static Entry Vrwkv(string name, string description, VrwkvConfig cfg) =>
        new(name, description, (n, kernels) => new VrwkvClassifier(
            (n is int k ? cfg with { NumClasses = k } : cfg) with { Kernels = kernels ?? KernelOptions.Default }, name), cfg.Data, cfg);

    private static Entry Vit(string name, string description, VitConfig cfg) =>
        new(name, description, (n, _) => new VisionTransformer(n is int k ? cfg with { NumClasses = k } : cfg, name), cfg.Data);
}
