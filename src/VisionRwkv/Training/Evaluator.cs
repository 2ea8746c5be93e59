using TorchSharp;
using VisionRwkv.Datasets.Loading;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>Options of an evaluation pass.</summary>
public sealed record EvaluateOptions
{
    /// <summary>Targets are float [B,K] multi-hot and scores are sigmoids.</summary>
    public bool MultiLabel { get; init; }
    /// <summary>Per-label BCE positive weights for the reported loss (multi-label only).</summary>
    public double[]? PosWeight { get; init; }
    /// <summary>Class names for the per-class table (index strings when absent).</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }
    /// <summary>Device inputs are moved to; null keeps them where the source put them.</summary>
    public Device? Device { get; init; }
    /// <summary>Decision threshold for multi-label per-label precision/recall/F1.</summary>
    public double Threshold { get; init; } = 0.5;
}

/// <summary>What <see cref="Evaluator.Evaluate"/> measured.</summary>
public sealed record EvaluationReport
{
    /// <summary>Samples evaluated.</summary>
    public required long Samples { get; init; }
    /// <summary>K, the width of the logits.</summary>
    public required int NumClasses { get; init; }
    /// <summary>Whether it was evaluated as multi-label.</summary>
    public required bool MultiLabel { get; init; }
    /// <summary>Mean loss per sample (cross-entropy without smoothing, or BCE).</summary>
    public required double Loss { get; init; }
    /// <summary>Top-1 accuracy in [0,1]. Multi-label: fraction of samples whose highest-scored label is positive.</summary>
    public required double Top1 { get; init; }
    /// <summary>Top-5 accuracy (top-min(5,K)). Multi-label: fraction with a positive among the 5 highest scores.</summary>
    public required double Top5 { get; init; }
    /// <summary>Per-class precision/recall/F1 (multi-label: per label at <see cref="EvaluateOptions.Threshold"/>).</summary>
    public required IReadOnlyList<ClassMetrics> PerClass { get; init; }
    /// <summary>Unweighted mean of per-class precision.</summary>
    public double MacroPrecision => PerClass.Count == 0 ? double.NaN : PerClass.Average(c => c.Precision);
    /// <summary>Unweighted mean of per-class recall.</summary>
    public double MacroRecall => PerClass.Count == 0 ? double.NaN : PerClass.Average(c => c.Recall);
    /// <summary>Unweighted mean of per-class F1.</summary>
    public double MacroF1 => PerClass.Count == 0 ? double.NaN : PerClass.Average(c => c.F1);
    /// <summary>Confusion matrix [true][predicted]; null in multi-label mode.</summary>
    public long[][]? ConfusionMatrix { get; init; }
    /// <summary>AUROC/AP per label, macro and micro; null in single-label mode.</summary>
    public MultiLabelReport? MultiLabelMetrics { get; init; }

    /// <summary>A metric by short name: top1, top5, loss, f1, auroc, ap (NaN when not applicable).</summary>
    public double Metric(string shortName) => shortName switch
    {
        "top1" => Top1,
        "top5" => Top5,
        "loss" => Loss,
        "f1" => MacroF1,
        "auroc" => MultiLabelMetrics?.MacroAuroc ?? double.NaN,
        "ap" => MultiLabelMetrics?.MacroAveragePrecision ?? double.NaN,
        _ => throw new ArgumentException($"Unknown metric '{shortName}'."),
    };
}

/// <summary>One of the k best classes of an image with its probability (softmax, or sigmoid in multi-label mode).</summary>
public readonly record struct TopKPrediction(int ClassIndex, float Probability);

/// <summary>Evaluation and prediction helpers shared by training, <c>rwkv eval</c> and <c>rwkv predict</c>.</summary>
public static class Evaluator
{
    /// <summary>
    /// Runs the model in eval mode under no_grad over one pass of <paramref name="source"/> (epoch 0, seed 0), one dispose
    /// scope per batch, and computes loss, top-1/top-5, per-class P/R/F1 and the confusion matrix (or AUROC/AP).
    /// Restores the model's training mode afterwards.
    /// </summary>
    public static EvaluationReport Evaluate(nn.Module<Tensor, Tensor> model, IBatchSource source, EvaluateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(source);
        options ??= new EvaluateOptions();
        var device = options.Device;
        bool wasTraining = model.training;
        model.eval();
        var scores = new List<float>();
        var hardLabels = new List<int>();
        var multiHot = new List<float>(); // [N*K] 1, 0 or NaN (masked)
        double lossSum = 0;
        long samples = 0;
        int k = -1;
        try
        {
            using var posWeight = options.PosWeight is null ? null : torch.tensor(options.PosWeight, dtype: ScalarType.Float32).DetachFromDisposeScope();
            using var noGrad = no_grad();
            foreach (var batch in source.GetBatches(0))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    var x = device is null ? batch.Inputs : batch.Inputs.to(device);
                    var y = device is null ? batch.Targets : batch.Targets.to(device);
                    var logits = model.call(x); // [B,K]
                    if (k < 0) k = (int)logits.shape[1];
                    else if (logits.shape[1] != k)
                        throw new InvalidOperationException($"The model returned {logits.shape[1]} logits after returning {k}.");
                    var pw = posWeight is null ? null : posWeight.to(logits.device);
                    var loss = Losses.Compute(logits, y, options.MultiLabel, 0, pw);
                    long b = logits.shape[0];
                    lossSum += loss.item<float>() * b;
                    samples += b;
                    var probs = (options.MultiLabel ? logits.sigmoid() : logits.softmax(1)).to_type(ScalarType.Float32).cpu().contiguous();
                    scores.AddRange(probs.data<float>().ToArray());
                    var yc = y.cpu();
                    if (options.MultiLabel)
                        multiHot.AddRange(yc.to_type(ScalarType.Float32).contiguous().data<float>().ToArray());
                    else if (yc.dim() == 1)
                        hardLabels.AddRange(yc.to_type(ScalarType.Int64).data<long>().ToArray().Select(v => (int)v));
                    else
                        hardLabels.AddRange(yc.argmax(1).data<long>().ToArray().Select(v => (int)v));
                }
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        if (samples == 0)
            throw new InvalidOperationException("The evaluation source yielded no samples.");
        return options.MultiLabel
            ? MultiLabelReportOf(scores.ToArray(), multiHot.ToArray(), k, samples, lossSum / samples, options)
            : SingleLabelReport(scores.ToArray(), hardLabels.ToArray(), k, samples, lossSum / samples, options);
    }

    static EvaluationReport SingleLabelReport(float[] scores, int[] labels, int k, long n, double loss, EvaluateOptions options)
    {
        var predictions = ClassificationMetrics.ArgMax(scores, k);
        var cm = ClassificationMetrics.ConfusionMatrix(labels, predictions, k);
        return new EvaluationReport
        {
            Samples = n,
            NumClasses = k,
            MultiLabel = false,
            Loss = loss,
            Top1 = ClassificationMetrics.TopKAccuracy(scores, k, labels, 1),
            Top5 = ClassificationMetrics.TopKAccuracy(scores, k, labels, 5),
            PerClass = ClassificationMetrics.PerClass(cm, options.ClassNames),
            ConfusionMatrix = cm,
        };
    }

    static EvaluationReport MultiLabelReportOf(float[] scores, float[] targets, int k, long n, double loss, EvaluateOptions options)
    {
        // Masked (NaN) targets count as negatives nowhere: they are left out of P/R/F1 and top-k hits, and of AUROC/AP.
        var labels = targets.Select(v => v >= 0.5f).ToArray();
        var masked = targets.Select(float.IsNaN).ToArray();
        var perClass = new ClassMetrics[k];
        for (int c = 0; c < k; c++)
        {
            long tp = 0, fp = 0, fn = 0;
            for (int i = 0; i < n; i++)
            {
                if (masked[i * k + c]) continue;
                bool predicted = scores[i * k + c] >= options.Threshold, actual = labels[i * k + c];
                if (predicted && actual) tp++;
                else if (predicted) fp++;
                else if (actual) fn++;
            }
            perClass[c] = ClassificationMetrics.FromCounts(c, ClassificationMetrics.Name(options.ClassNames, c), tp, fp, fn);
        }
        long hit1 = 0, hit5 = 0;
        int top = Math.Min(5, k);
        for (int i = 0; i < n; i++)
        {
            int offset = i * k;
            var order = Enumerable.Range(0, k).OrderByDescending(j => scores[offset + j]).ThenBy(j => j).ToArray();
            if (labels[i * k + order[0]]) hit1++;
            if (order.Take(top).Any(j => labels[i * k + j])) hit5++;
        }
        return new EvaluationReport
        {
            Samples = n,
            NumClasses = k,
            MultiLabel = true,
            Loss = loss,
            Top1 = (double)hit1 / n,
            Top5 = (double)hit5 / n,
            PerClass = perClass,
            MultiLabelMetrics = MultiLabelMetrics.ComputeMasked(scores, targets, k),
        };
    }

    /// <summary>
    /// The <paramref name="k"/> most probable classes of each image in <paramref name="images"/> [B,C,H,W], best first.
    /// Probabilities are softmax (or per-label sigmoid when <paramref name="multiLabel"/>). Runs in eval mode under no_grad.
    /// </summary>
    public static TopKPrediction[][] PredictTopK(nn.Module<Tensor, Tensor> model, Tensor images, int k, bool multiLabel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logits = model.call(images); // [B,K]
            var probs = multiLabel ? logits.sigmoid() : logits.softmax(1);
            int kk = (int)Math.Min(k, probs.shape[1]);
            var (values, indices) = probs.topk(kk, dim: 1, largest: true, sorted: true); // [B,kk]
            var v = values.to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
            var ix = indices.cpu().contiguous().data<long>().ToArray();
            var result = new TopKPrediction[probs.shape[0]][];
            for (int i = 0; i < result.Length; i++)
            {
                result[i] = new TopKPrediction[kk];
                for (int j = 0; j < kk; j++)
                    result[i][j] = new TopKPrediction((int)ix[i * kk + j], v[i * kk + j]);
            }
            return result;
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
