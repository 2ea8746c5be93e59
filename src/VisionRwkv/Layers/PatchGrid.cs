namespace VisionRwkv.Layers;

/// <summary>The token grid after patch embedding: tokens are row-major, t = h*Width + w.</summary>
public readonly record struct PatchGrid(long Height, long Width)
{
    public long Tokens => Height * Width;

    public override string ToString() => $"{Height}x{Width}";
}
