using static TorchSharp.torch;

namespace VisionRwkv.Blocks;

/// <summary>
/// The official "fancy" initialisation of the RWKV parameters, scheduled by depth (vision-rwkv.md §1.7):
/// decay from fast to slow across channels, a zigzag bonus, and token-mix ratios that shift less in deeper layers.
/// </summary>
internal static class FancyInit
{
    public sealed record SpatialInit(Tensor Decay, Tensor First, Tensor MixK, Tensor MixV, Tensor MixR);

    public sealed record ChannelInit(Tensor MixK, Tensor MixR);

    public static SpatialInit Spatial(int channels, int layerId, int depth)
    {
        // With a single layer the official ratio_0_to_1 divides by zero; treat that layer as the first.
        double ratio0To1 = depth > 1 ? (double)layerId / (depth - 1) : 0.0;   // 0 to 1
        double ratio1ToAlmost0 = 1.0 - (double)layerId / depth;                // 1 to ~0
        var decay = new float[channels];
        var first = new float[channels];
        for (int h = 0; h < channels; h++)
        {
            decay[h] = (float)(-5 + 8 * Math.Pow(h / (double)(channels - 1 == 0 ? 1 : channels - 1), 0.7 + 1.3 * ratio0To1));
            int zig = ((h + 1) % 3) - 1;                                         // Python: (h+1) % 3 - 1 → 0, +1, -1
            first[h] = (float)(Math.Log(0.3) + zig * 0.5);
        }
        return new SpatialInit(
            tensor(decay),
            tensor(first),
            MixRamp(channels, ratio1ToAlmost0, 0),
            MixRamp(channels, ratio1ToAlmost0, 0.3 * ratio0To1),
            MixRamp(channels, 0.5 * ratio1ToAlmost0, 0));
    }

    public static ChannelInit Channel(int channels, int layerId, int depth)
    {
        double ratio1ToAlmost0 = 1.0 - (double)layerId / depth;
        return new ChannelInit(MixRamp(channels, ratio1ToAlmost0, 0), MixRamp(channels, ratio1ToAlmost0, 0));
    }

    /// <summary>[1,1,C] with (i/C)^power + offset.</summary>
    private static Tensor MixRamp(int channels, double power, double offset)
    {
        var x = new float[channels];
        for (int i = 0; i < channels; i++)
            x[i] = (float)(Math.Pow(i / (double)channels, power) + offset);
        return tensor(x).view(1, 1, channels);
    }
}
