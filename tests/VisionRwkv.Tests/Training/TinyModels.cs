using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Training;

/// <summary>Flatten -> Linear -> LayerNorm -> ReLU -> Linear; weights drawn from a private generator so tests running
/// in parallel cannot disturb the initialisation through torch's global generator.</summary>
internal sealed class TinyMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly LayerNorm norm;
    private readonly Linear fc2;

    public TinyMlp(int inFeatures, int hidden, int classes, long seed) : base(nameof(TinyMlp))
    {
        fc1 = nn.Linear(inFeatures, hidden);
        norm = nn.LayerNorm(hidden);
        fc2 = nn.Linear(hidden, classes);
        RegisterComponents();
        using var g = new torch.Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.StartsWith("norm", StringComparison.Ordinal)) continue;
            using var r = torch.randn(p.shape, generator: g) * 0.4;
            p.copy_(r);
        }
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(norm.call(fc1.call(x.flatten(1)))); // [B,H]
        return fc2.call(h).MoveToOuterDisposeScope();                    // [B,K]
    }
}

/// <summary>
/// Gaussian blobs: class c has mean centre[c] (well separated) in 8 dims, shaped as images [B,2,2,2]. Shuffled per epoch
/// from the seed when <paramref name="shuffle"/>; deterministic given (epoch, seed).
/// </summary>
internal sealed class BlobSource : IBatchSource
{
    private readonly float[][] _x;
    private readonly int[] _y;
    private readonly int _batchSize;
    private readonly bool _shuffle;
    private readonly bool _multiLabel;
    private readonly int _classes;

    private readonly int _dataSeed;
    private readonly MixupCutmix? _mixup;

    public BlobSource(int classes, int perClass, int batchSize, int dataSeed, bool shuffle = true, double spread = 0.5, bool multiLabel = false,
        AugmentConfig? mixup = null)
    {
        _dataSeed = dataSeed;
        _mixup = mixup is null ? null : new MixupCutmix(mixup, classes);
        _batchSize = batchSize;
        _shuffle = shuffle;
        _multiLabel = multiLabel;
        _classes = classes;
        var rng = new Random(12345); // centres are the same for every split
        var centres = Enumerable.Range(0, classes).Select(_ => Enumerable.Range(0, 8).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray()).ToArray();
        var r = new Random(dataSeed);
        var xs = new List<float[]>();
        var ys = new List<int>();
        for (int c = 0; c < classes; c++)
            for (int i = 0; i < perClass; i++)
            {
                xs.Add(centres[c].Select(v => v + (float)(Gauss(r) * spread)).ToArray());
                ys.Add(c);
            }
        _x = xs.ToArray();
        _y = ys.ToArray();
    }

    public int Samples => _y.Length;
    public int BatchCount => (_y.Length + _batchSize - 1) / _batchSize;

    public IEnumerable<Batch> GetBatches(int epoch)
    {
        var order = Enumerable.Range(0, _y.Length).ToArray();
        if (_shuffle)
            SeededRng.For(_dataSeed, epoch, -1).Shuffle(order);
        for (int start = 0; start < order.Length; start += _batchSize)
        {
            var idx = order.Skip(start).Take(_batchSize).ToArray();
            var x = torch.tensor(idx.SelectMany(i => _x[i]).ToArray(), new long[] { idx.Length, 2, 2, 2 });
            Tensor y;
            if (_multiLabel)
            {
                // Label c is on for class c and, as a second label, for class (c+1) % K, so rows are multi-hot.
                var t = new float[idx.Length * _classes];
                for (int j = 0; j < idx.Length; j++)
                {
                    t[j * _classes + _y[idx[j]]] = 1;
                    if (_y[idx[j]] % 2 == 0) t[j * _classes + (_y[idx[j]] + 1) % _classes] = 1;
                }
                y = torch.tensor(t, new long[] { idx.Length, _classes });
            }
            else
            {
                y = torch.tensor(idx.Select(i => (long)_y[i]).ToArray());
            }
            if (_mixup is not null)
            {
                var soft = _mixup.Apply(x, y, SeededRng.For(_dataSeed, epoch, start), out _);   // [B,K] soft targets
                y.Dispose();
                y = soft;
            }
            yield return new Batch(x, y);
        }
    }

    private static double Gauss(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}

internal sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("rwkv-train-").FullName;
    public string Path { get; }
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
