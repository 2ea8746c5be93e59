using VisionRwkv.Datasets.Detection;

namespace VisionRwkv.Detection.Evaluation;

/// <summary>
/// COCO box detection metrics, written from the definition with pycocotools' exact semantics (cocoapi
/// <c>PythonAPI/pycocotools/cocoeval.py</c>, <c>iouType='bbox'</c>, default parameters). Our own code rather than a
/// port: no .NET package computes these, and the numbers must agree with the reference everyone quotes. What it does,
/// in pycocotools' terms:
/// <list type="bullet">
/// <item>Images: every image of the ground truth (sorted ids), with or without annotations; categories: every entry of
/// <c>categories</c> (sorted ids). A category with no non-ignored ground truth in an area range gets -1 there and is left
/// out of the means; a mean over nothing is -1.</item>
/// <item>Detections: results on an image id the ground truth does not have are an error (pycocotools asserts); results
/// of a category the ground truth does not list are dropped. Result i gets id i + 1 and area w·h.</item>
/// <item>Ground truth: <c>ignore = iscrowd</c> (pycocotools overwrites any <c>ignore</c> field with it); a ground truth is
/// also ignored in an area range that does not contain its <c>area</c> (both ends inclusive: an area of exactly 32²
/// is small and medium). Ground truth is ordered non-ignored first (stable).</item>
/// <item>Per image and category: detections sorted by descending score, stably (ties keep results-file order), the
/// first 100 kept. IoU of boxes; for a crowd ground truth the union is the detection's area.</item>
/// <item>Greedy matching, per IoU threshold t in linspace(.5, .95, 10): each detection in score order takes the
/// ground truth with the highest IoU ≥ min(t, 1 - 1e-10) among those not yet taken (crowds can be taken repeatedly);
/// ties go to the later ground truth; once it holds a non-ignored match it does not move on to ignored ones. A
/// detection matched to an ignored ground truth is ignored; an unmatched detection outside the area range is ignored.</item>
/// <item>Accumulation per category, area range and maxDets (1, 10, 100): the first maxDets detections of each image,
/// concatenated in image-id order and sorted stably by descending score; precision made non-increasing from the right;
/// precision at the 101 recall thresholds linspace(0, 1, 101) by a left binary search (0 past the last recall); recall
/// is the last recall (0 with no detections).</item>
/// <item>The 12 numbers are means over the kept entries, summed the way numpy sums (pairwise), so they are normally
/// bit-identical to pycocotools'.</item>
/// </list>
/// One deliberate difference: an annotation id of 0 is rejected, because pycocotools records a match as the matched
/// annotation's id and so silently counts a match to id 0 as a miss.
/// </summary>
public static class CocoEvaluator
{
    /// <summary>pycocotools' <c>iouThrs</c>: numpy <c>linspace(.5, .95, 10)</c>, computed the way numpy does (i·step + start, last = stop).</summary>
    public static IReadOnlyList<double> IouThresholds { get; } = Linspace(0.5, 0.95, 10);

    /// <summary>pycocotools' <c>recThrs</c>: numpy <c>linspace(0, 1, 101)</c>.</summary>
    public static IReadOnlyList<double> RecallThresholds { get; } = Linspace(0.0, 1.0, 101);

    /// <summary>pycocotools' <c>maxDets</c>.</summary>
    public static IReadOnlyList<int> MaxDetections { get; } = [1, 10, 100];

    /// <summary>pycocotools' <c>areaRng</c> (all, small, medium, large), compared with the annotation's <c>area</c>.</summary>
    public static IReadOnlyList<(string Name, double Min, double Max)> AreaRanges { get; } =
        [("all", 0, 1e5 * 1e5), ("small", 0, 32 * 32), ("medium", 32 * 32, 96 * 96), ("large", 96 * 96, 1e5 * 1e5)];

    /// <summary>Evaluates <paramref name="results"/> against <paramref name="groundTruth"/>.</summary>
    public static CocoMetrics Evaluate(CocoDataset groundTruth, IReadOnlyList<CocoResult> results)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(results);
        var imgIds = groundTruth.Images.Select(i => i.Id).Distinct().Order().ToArray();
        var catIds = groundTruth.Categories.Select(c => c.Id).Distinct().Order().ToArray();
        var imgIndex = new Dictionary<long, int>();
        for (var i = 0; i < imgIds.Length; i++)
            imgIndex[imgIds[i]] = i;
        var catIndex = new Dictionary<long, int>();
        for (var k = 0; k < catIds.Length; k++)
            catIndex[catIds[k]] = k;
        int I = imgIds.Length, K = catIds.Length, A = AreaRanges.Count, T = IouThresholds.Count;

        // Ground truth and detections per (category, image), in file order, as pycocotools' getAnnIds gives them.
        var gts = new List<Gt>?[K * I];
        foreach (var a in groundTruth.Annotations)
        {
            if (!imgIndex.TryGetValue(a.ImageId, out var i) || !catIndex.TryGetValue(a.CategoryId, out var k))
                continue;
            if (a.Id == 0)
                throw new ArgumentException($"Ground-truth annotation id 0 (image {a.ImageId}): pycocotools would count a match to it as a miss; number annotations from 1.", nameof(groundTruth));
            (gts[k * I + i] ??= []).Add(new Gt(a.Bbox, a.Area, a.IsCrowd));
        }
        var dts = new List<Dt>?[K * I];
        for (var r = 0; r < results.Count; r++)
        {
            var d = results[r];
            if (!imgIndex.TryGetValue(d.ImageId, out var i))
                throw new ArgumentException($"Result {r} is for image id {d.ImageId}, which the ground truth does not have (pycocotools: 'Results do not correspond to current coco set').", nameof(results));
            if (!double.IsFinite(d.Score) || !double.IsFinite(d.Bbox.X) || !double.IsFinite(d.Bbox.Y) || !double.IsFinite(d.Bbox.W) || !double.IsFinite(d.Bbox.H))
                throw new ArgumentException($"Result {r} (image {d.ImageId}) has a non-finite score or box.", nameof(results));
            if (!catIndex.TryGetValue(d.CategoryId, out var k))
                continue;
            (dts[k * I + i] ??= []).Add(new Dt(d.Bbox, d.Bbox.W * d.Bbox.H, d.Score));
        }

        // evaluate(): one entry per (category, area range, image); null where the image has neither gt nor dt.
        var maxDet = MaxDetections[^1];
        var evalImgs = new ImageEval?[K * A * I];
        for (var k = 0; k < K; k++)
        {
            for (var i = 0; i < I; i++)
            {
                var g = gts[k * I + i] ?? [];
                var d = dts[k * I + i] ?? [];
                if (g.Count == 0 && d.Count == 0)
                    continue;
                var dSorted = StableOrderByDescendingScore(d, x => x.Score).Take(maxDet).ToArray();
                var ious = Ious(dSorted, g);
                for (var a = 0; a < A; a++)
                    evalImgs[(k * A + a) * I + i] = EvaluateImage(dSorted, g, ious, AreaRanges[a].Min, AreaRanges[a].Max);
            }
        }

        // accumulate(): precision [T,R,K,A,M] and recall [T,K,A,M], -1 where a category has no non-ignored gt.
        int R = RecallThresholds.Count, M = MaxDetections.Count;
        var precision = new double[T, R, K, A, M];
        var recall = new double[T, K, A, M];
        Fill(precision, -1);
        Fill(recall, -1);
        for (var k = 0; k < K; k++)
        {
            for (var a = 0; a < A; a++)
            {
                var E = new List<ImageEval>();
                for (var i = 0; i < I; i++)
                {
                    if (evalImgs[(k * A + a) * I + i] is { } e)
                        E.Add(e);
                }
                if (E.Count == 0)
                    continue;
                var npig = E.Sum(e => e.NonIgnoredGt);
                if (npig == 0)
                    continue;
                for (var m = 0; m < M; m++)
                    Accumulate(E, MaxDetections[m], npig, T, (t, rc, q) =>
                    {
                        recall[t, k, a, m] = rc;
                        for (var r = 0; r < R; r++)
                            precision[t, r, k, a, m] = q[r];
                    });
            }
        }

        // summarize(): pycocotools' _summarizeDets.
        var stats = new double[12];
        stats[0] = Summarize(precision, recall, true, null, 0, 2);
        stats[1] = Summarize(precision, recall, true, 0.5, 0, 2);
        stats[2] = Summarize(precision, recall, true, 0.75, 0, 2);
        stats[3] = Summarize(precision, recall, true, null, 1, 2);
        stats[4] = Summarize(precision, recall, true, null, 2, 2);
        stats[5] = Summarize(precision, recall, true, null, 3, 2);
        stats[6] = Summarize(precision, recall, false, null, 0, 0);
        stats[7] = Summarize(precision, recall, false, null, 0, 1);
        stats[8] = Summarize(precision, recall, false, null, 0, 2);
        stats[9] = Summarize(precision, recall, false, null, 1, 2);
        stats[10] = Summarize(precision, recall, false, null, 2, 2);
        stats[11] = Summarize(precision, recall, false, null, 3, 2);

        // Per category: AP over all thresholds, area 'all', 100 detections (what pycocotools' precision array gives).
        var perCategory = new Dictionary<long, double>();
        for (var k = 0; k < K; k++)
        {
            var values = new List<double>();
            for (var t = 0; t < T; t++)
            {
                for (var r = 0; r < R; r++)
                {
                    if (precision[t, r, k, 0, 2] > -1)
                        values.Add(precision[t, r, k, 0, 2]);
                }
            }
            perCategory[catIds[k]] = values.Count == 0 ? -1 : NumpySum(values) / values.Count;
        }
        return new CocoMetrics(stats, perCategory);
    }

    private sealed record Gt(CocoBox Box, double Area, bool IsCrowd);

    private sealed record Dt(CocoBox Box, double Area, double Score);

    /// <summary>One (image, category, area range) after matching, with detections in score order (at most 100).</summary>
    private sealed record ImageEval(double[] Scores, bool[,] Matched, bool[,] Ignored, int NonIgnoredGt);

    /// <summary>IoU [D,G] exactly as cocoapi's <c>bbIou</c> (maskApi.c): crowd ground truth divides by the detection's area.</summary>
    private static double[,] Ious(Dt[] dt, List<Gt> gt)
    {
        var o = new double[dt.Length, gt.Count];
        for (var g = 0; g < gt.Count; g++)
        {
            var G = gt[g].Box;
            var ga = G.W * G.H;
            for (var d = 0; d < dt.Length; d++)
            {
                var D = dt[d].Box;
                var da = D.W * D.H;
                var w = Math.Min(D.W + D.X, G.W + G.X) - Math.Max(D.X, G.X);
                if (w <= 0)
                    continue;
                var h = Math.Min(D.H + D.Y, G.H + G.Y) - Math.Max(D.Y, G.Y);
                if (h <= 0)
                    continue;
                var inter = w * h;
                var union = gt[g].IsCrowd ? da : da + ga - inter;
                o[d, g] = inter / union;
            }
        }
        return o;
    }

    /// <summary>pycocotools' <c>evaluateImg</c> for one area range; <paramref name="dt"/> is already score-sorted and cut to 100.</summary>
    private static ImageEval EvaluateImage(Dt[] dt, List<Gt> gtFileOrder, double[,] iousFileOrder, double areaMin, double areaMax)
    {
        var T = IouThresholds.Count;
        // Ignored ground truth last, stably (np.argsort kind='mergesort' on the 0/1 ignore flags).
        var ignoreOf = gtFileOrder.Select(g => g.IsCrowd || g.Area < areaMin || g.Area > areaMax).ToArray();
        var order = Enumerable.Range(0, gtFileOrder.Count).Where(j => !ignoreOf[j]).Concat(Enumerable.Range(0, gtFileOrder.Count).Where(j => ignoreOf[j])).ToArray();
        int G = order.Length, D = dt.Length;
        var gtIg = order.Select(j => ignoreOf[j]).ToArray();
        var crowd = order.Select(j => gtFileOrder[j].IsCrowd).ToArray();
        var gtTaken = new bool[T, G];
        var dtMatched = new bool[T, D];
        var dtIg = new bool[T, D];
        if (D > 0 && G > 0)
        {
            for (var t = 0; t < T; t++)
            {
                for (var d = 0; d < D; d++)
                {
                    var best = Math.Min(IouThresholds[t], 1 - 1e-10);
                    var m = -1;
                    for (var g = 0; g < G; g++)
                    {
                        if (gtTaken[t, g] && !crowd[g])
                            continue;
                        // Holding a match to a regular ground truth: the ignored ones (all after it) cannot replace it.
                        if (m > -1 && !gtIg[m] && gtIg[g])
                            break;
                        var iou = iousFileOrder[d, order[g]];
                        if (iou < best)
                            continue;
                        best = iou;
                        m = g;
                    }
                    if (m == -1)
                        continue;
                    dtIg[t, d] = gtIg[m];
                    dtMatched[t, d] = true;
                    gtTaken[t, m] = true;
                }
            }
        }
        for (var d = 0; d < D; d++)
        {
            var outside = dt[d].Area < areaMin || dt[d].Area > areaMax;
            for (var t = 0; t < T; t++)
            {
                if (!dtMatched[t, d] && outside)
                    dtIg[t, d] = true;
            }
        }
        return new ImageEval(dt.Select(x => x.Score).ToArray(), dtMatched, dtIg, gtIg.Count(x => !x));
    }

    /// <summary>pycocotools' <c>accumulate</c> for one (category, area range, maxDets); reports (t, recall, precision[R]).</summary>
    private static void Accumulate(List<ImageEval> E, int maxDet, int npig, int T, Action<int, double, double[]> report)
    {
        // (image entry, detection) pairs in concatenation order, then a stable sort by descending score.
        var pairs = new List<(ImageEval E, int D)>();
        foreach (var e in E)
        {
            for (var d = 0; d < Math.Min(maxDet, e.Scores.Length); d++)
                pairs.Add((e, d));
        }
        var sorted = StableOrderByDescendingScore(pairs, p => p.E.Scores[p.D]).ToArray();
        var nd = sorted.Length;
        var R = RecallThresholds.Count;
        var rc = new double[nd];
        var pr = new double[nd];
        for (var t = 0; t < T; t++)
        {
            double tp = 0, fp = 0;
            for (var j = 0; j < nd; j++)
            {
                var (e, d) = sorted[j];
                if (!e.Ignored[t, d])
                {
                    if (e.Matched[t, d])
                        tp++;
                    else
                        fp++;
                }
                rc[j] = tp / npig;
                pr[j] = tp / (fp + tp + NumpySpacingOfOne);
            }
            var recall = nd > 0 ? rc[nd - 1] : 0;
            for (var j = nd - 1; j > 0; j--)
            {
                if (pr[j] > pr[j - 1])
                    pr[j - 1] = pr[j];
            }
            var q = new double[R];
            for (var r = 0; r < R; r++)
            {
                var pi = SearchSortedLeft(rc, nd, RecallThresholds[r]);
                if (pi >= nd)
                    break; // pycocotools' IndexError: this and every higher recall threshold keep precision 0
                q[r] = pr[pi];
            }
            report(t, recall, q);
        }
    }

    /// <summary>np.spacing(1): the distance from 1.0 to the next double, added to precision's denominator by pycocotools.</summary>
    private const double NumpySpacingOfOne = 2.220446049250313e-16;

    /// <summary>numpy <c>searchsorted(a, v, side='left')</c>: the first index whose value is ≥ v.</summary>
    private static int SearchSortedLeft(double[] a, int n, double v)
    {
        int lo = 0, hi = n;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (a[mid] < v)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    /// <summary>pycocotools' <c>_summarize</c>: the mean of the entries &gt; -1 at one area range and maxDets, over all or one IoU threshold.</summary>
    private static double Summarize(double[,,,,] precision, double[,,,] recall, bool ap, double? iouThr, int area, int maxDetIndex)
    {
        var ts = Enumerable.Range(0, IouThresholds.Count).Where(t => iouThr is null || IouThresholds[t] == iouThr.Value).ToArray();
        var values = new List<double>();
        // Flattened in numpy's C order: [T,R,K] for precision, [T,K] for recall.
        foreach (var t in ts)
        {
            if (ap)
            {
                for (var r = 0; r < precision.GetLength(1); r++)
                {
                    for (var k = 0; k < precision.GetLength(2); k++)
                    {
                        var v = precision[t, r, k, area, maxDetIndex];
                        if (v > -1)
                            values.Add(v);
                    }
                }
            }
            else
            {
                for (var k = 0; k < recall.GetLength(1); k++)
                {
                    var v = recall[t, k, area, maxDetIndex];
                    if (v > -1)
                        values.Add(v);
                }
            }
        }
        return values.Count == 0 ? -1 : NumpySum(values) / values.Count;
    }

    /// <summary>
    /// numpy's float64 <c>add.reduce</c> of a contiguous 1-D array: 0 plus the pairwise sum (blocks of up to 128 summed
    /// with 8 accumulators). Summing in the same order makes the means bit-identical to pycocotools', not merely close.
    /// </summary>
    internal static double NumpySum(IReadOnlyList<double> a) => 0.0 + PairwiseSum(a, 0, a.Count);

    private static double PairwiseSum(IReadOnlyList<double> a, int start, int n)
    {
        if (n < 8)
        {
            var res = 0.0;
            for (var i = 0; i < n; i++)
                res += a[start + i];
            return res;
        }
        if (n <= 128)
        {
            var r = new double[8];
            for (var j = 0; j < 8; j++)
                r[j] = a[start + j];
            var i = 8;
            for (; i < n - n % 8; i += 8)
            {
                for (var j = 0; j < 8; j++)
                    r[j] += a[start + i + j];
            }
            var res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++)
                res += a[start + i];
            return res;
        }
        var n2 = n / 2;
        n2 -= n2 % 8;
        return PairwiseSum(a, start, n2) + PairwiseSum(a, start + n2, n - n2);
    }

    /// <summary>A stable sort by descending score, as <c>np.argsort(-scores, kind='mergesort')</c>.</summary>
    private static IEnumerable<T> StableOrderByDescendingScore<T>(IEnumerable<T> items, Func<T, double> score) =>
        items.OrderByDescending(score); // LINQ's OrderBy is a stable sort

    /// <summary>numpy's linspace: i·step + start with step = (stop - start)/(num - 1), and the last value exactly stop.</summary>
    private static double[] Linspace(double start, double stop, int num)
    {
        var step = (stop - start) / (num - 1);
        var y = new double[num];
        for (var i = 0; i < num; i++)
            y[i] = i * step + start;
        y[^1] = stop;
        return y;
    }

    private static void Fill(double[,,,,] a, double value)
    {
        for (var t = 0; t < a.GetLength(0); t++)
            for (var r = 0; r < a.GetLength(1); r++)
                for (var k = 0; k < a.GetLength(2); k++)
                    for (var x = 0; x < a.GetLength(3); x++)
                        for (var m = 0; m < a.GetLength(4); m++)
                            a[t, r, k, x, m] = value;
    }

    private static void Fill(double[,,,] a, double value)
    {
        for (var t = 0; t < a.GetLength(0); t++)
            for (var k = 0; k < a.GetLength(1); k++)
                for (var x = 0; x < a.GetLength(2); x++)
                    for (var m = 0; m < a.GetLength(3); m++)
                        a[t, k, x, m] = value;
    }
}
