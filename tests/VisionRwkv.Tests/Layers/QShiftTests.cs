using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Layers;

public class QShiftTests
{
    [Fact]
    public void Each_channel_quarter_reads_its_official_neighbour_with_zeros_at_the_border()
    {
        // A 3x4 grid, 9 channels: quarters of 2 channels plus one unshifted channel. Token value = 100*h + w + 1.
        const int H = 3, W = 4, C = 9;
        var data = new float[H * W * C];
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                for (int c = 0; c < C; c++)
                    data[((h * W) + w) * C + c] = (100 * h) + w + 1;
        using var x = tensor(data).view(1, H * W, C);
        using var y = QShift.Apply(x, new PatchGrid(H, W));
        var o = y.data<float>().ToArray();

        float At(int h, int w) => (h < 0 || h >= H || w < 0 || w >= W) ? 0f : (100 * h) + w + 1;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
            {
                int t = (h * W) + w;
                Assert.Equal(At(h, w - 1), o[t * C + 0]);   // left neighbour
                Assert.Equal(At(h, w + 1), o[t * C + 2]);   // right neighbour
                Assert.Equal(At(h - 1, w), o[t * C + 4]);   // upper neighbour
                Assert.Equal(At(h + 1, w), o[t * C + 6]);   // lower neighbour
                Assert.Equal(At(h, w), o[t * C + 8]);       // remainder unshifted
            }
    }
}
