using VisionRwkv.Training;

namespace VisionRwkv.Tests.Training;

public class MetricsTests
{
    // 3 samples x 3 classes. Row 0 ranks (2,1,0), row 1 ranks (0,2,1), row 2 ties classes 0 and 1 at the top.
    private static readonly float[] Scores = [0.1f, 0.3f, 0.6f, 0.7f, 0.1f, 0.2f, 0.4f, 0.4f, 0.2f];

    [Fact]
    public void Top_k_accuracy_matches_hand_counts()
    {
        int[] labels = [1, 0, 1];
        // top-1: row0 pred 2 (label 1) miss; row1 pred 0 hit; row2 tie -> class 0 first (lower index), label 1 miss => 1/3.
        Assert.Equal(1.0 / 3, ClassificationMetrics.TopKAccuracy(Scores, 3, labels, 1), 12);
        // top-2: row0 {2,1} hit; row1 hit; row2 {0,1} hit => 3/3.
        Assert.Equal(1.0, ClassificationMetrics.TopKAccuracy(Scores, 3, labels, 2), 12);
        // k above K is clamped: everything is a hit.
        Assert.Equal(1.0, ClassificationMetrics.TopKAccuracy(Scores, 3, [2, 2, 2], 5), 12);
    }

    [Fact]
    public void Confusion_matrix_and_per_class_scores_match_hand_values()
    {
        int[] labels = [0, 0, 1, 1, 1, 2];
        int[] preds = [0, 1, 1, 1, 2, 2];
        var cm = ClassificationMetrics.ConfusionMatrix(labels, preds, 3);
        Assert.Equal(new long[] { 1, 1, 0 }, cm[0]);
        Assert.Equal(new long[] { 0, 2, 1 }, cm[1]);
        Assert.Equal(new long[] { 0, 0, 1 }, cm[2]);
        var per = ClassificationMetrics.PerClass(cm, ["a", "b", "c"]);
        // class a: tp1 fp0 fn1 -> P 1, R 0.5, F1 2/3. class b: tp2 fp1 fn1 -> P 2/3, R 2/3, F1 2/3. class c: tp1 fp1 fn0 -> P .5 R 1 F1 2/3.
        Assert.Equal(1.0, per[0].Precision, 12);
        Assert.Equal(0.5, per[0].Recall, 12);
        Assert.Equal(2.0 / 3, per[0].F1, 12);
        Assert.Equal(2.0 / 3, per[1].Precision, 12);
        Assert.Equal(2.0 / 3, per[1].Recall, 12);
        Assert.Equal(0.5, per[2].Precision, 12);
        Assert.Equal(1.0, per[2].Recall, 12);
        Assert.Equal(2.0 / 3, per[2].F1, 12);
        Assert.Equal(3, per[1].Support);
        Assert.Equal("c", per[2].Name);
    }

    [Fact]
    public void Class_never_predicted_has_zero_precision_not_nan()
    {
        var per = ClassificationMetrics.PerClass(ClassificationMetrics.ConfusionMatrix([0, 1], [0, 0], 2));
        Assert.Equal(0.0, per[1].Precision);
        Assert.Equal(0.0, per[1].F1);
        Assert.Equal(0.5, per[0].Precision, 12);
    }

    [Fact]
    public void Auroc_matches_the_textbook_example_and_handles_ties()
    {
        // scikit-learn's roc_auc_score docs example: y = [0,0,1,1], s = [0.1,0.4,0.35,0.8] -> 0.75 (3 of 4 pairs ordered).
        Assert.Equal(0.75, MultiLabelMetrics.Auroc([0.1f, 0.4f, 0.35f, 0.8f], [false, false, true, true]), 12);
        // All tied: every pair counts one half.
        Assert.Equal(0.5, MultiLabelMetrics.Auroc([0.5f, 0.5f, 0.5f, 0.5f], [false, true, false, true]), 12);
        // One tied pair out of 4: pairs (p0.9>n0.1)=1, (p0.9=n0.9)=0.5, (p0.5>n0.1)=1, (p0.5<n0.9)=0 -> 2.5/4.
        Assert.Equal(0.625, MultiLabelMetrics.Auroc([0.9f, 0.5f, 0.9f, 0.1f], [true, true, false, false]), 12);
        Assert.True(double.IsNaN(MultiLabelMetrics.Auroc([0.2f, 0.3f], [true, true])));
    }

    [Fact]
    public void Auroc_equals_pair_counting_on_random_scores_with_ties()
    {
        var r = new Random(7);
        for (int trial = 0; trial < 20; trial++)
        {
            int n = r.Next(2, 60);
            var s = Enumerable.Range(0, n).Select(_ => (float)(r.Next(0, 6) / 5.0)).ToArray(); // heavy ties
            var l = Enumerable.Range(0, n).Select(_ => r.NextDouble() < 0.4).ToArray();
            double pairs = 0, good = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (l[i] && !l[j])
                    {
                        pairs++;
                        good += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
                    }
            var auc = MultiLabelMetrics.Auroc(s, l);
            if (pairs == 0) Assert.True(double.IsNaN(auc));
            else Assert.Equal(good / pairs, auc, 12);
        }
    }

    [Fact]
    public void Average_precision_matches_hand_values()
    {
        // scikit-learn docs example: y = [0,0,1,1], s = [0.1,0.4,0.35,0.8] -> (0.5*1) + (0.5*2/3) = 0.8333.
        Assert.Equal(0.5 + 0.5 * 2 / 3.0, MultiLabelMetrics.AveragePrecision([0.1f, 0.4f, 0.35f, 0.8f], [false, false, true, true]), 12);
        // Tie at the top: threshold 0.9 -> recall .5 precision .5; threshold 0.1 -> recall 1 precision 2/3.
        Assert.Equal(0.25 + 0.5 * 2 / 3.0, MultiLabelMetrics.AveragePrecision([0.9f, 0.9f, 0.1f], [true, false, true]), 12);
        Assert.True(double.IsNaN(MultiLabelMetrics.AveragePrecision([0.9f], [false])));
    }

    [Fact]
    public void Multi_label_macro_skips_undefined_labels_and_micro_pools_all_pairs()
    {
        // 3 samples x 2 labels. Label 0: s=[.9,.2,.6] y=[1,0,0] -> AUROC 1. Label 1 all positive -> NaN AUROC, AP 1.
        float[] s = [0.9f, 0.8f, 0.2f, 0.7f, 0.6f, 0.3f];
        bool[] y = [true, true, false, true, false, true];
        var rep = MultiLabelMetrics.Compute(s, y, 2);
        Assert.Equal(1.0, rep.Auroc[0], 12);
        Assert.True(double.IsNaN(rep.Auroc[1]));
        Assert.Equal(1.0, rep.MacroAuroc, 12);
        Assert.Equal(1.0, rep.AveragePrecision[1], 12);
        // Micro: pooled positives {.9,.8,.7,.3}, negatives {.2,.6}: pairs won 4+3+3+... = (.9:2)(.8:2)(.7:2)(.3:1) = 7 of 8.
        Assert.Equal(7.0 / 8, rep.MicroAuroc, 12);
    }
}
