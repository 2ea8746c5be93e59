using VisionRwkv.Datasets.Detection;
using VisionRwkv.Detection.Evaluation;

namespace VisionRwkv.Tests.Detection.Evaluation;

/// <summary>
/// COCO evaluation on cases small enough to compute by hand. Conventions used in the comments: a TP has precision
/// tp/(tp+fp+eps) with eps = 2^-52 (pycocotools' np.spacing(1)), so "1" below means 1/(1+eps) = 1 - 2.2e-16; hence the
/// 1e-12 tolerance. With n recall thresholds at precision p out of 101, AP at one IoU threshold is n·p/101.
/// </summary>
public sealed class CocoEvaluatorTests
{
    private const double Tol = 1e-12;

    /// <summary>Builds a ground truth set from (image, category, x, y, w, h, crowd, area?) tuples; ids numbered from 1.</summary>
    private static CocoDataset Gt(long[] images, long[] categories, params (long Img, long Cat, double X, double Y, double W, double H, bool Crowd, double? Area)[] anns) =>
        new(images.Select(i => new CocoImage(i, $"{i}.png", 200, 200)).ToList(),
            categories.Select(c => new CocoCategory(c, $"c{c}")).ToList(),
            anns.Select((a, i) => new CocoAnnotation(i + 1, a.Img, a.Cat, new CocoBox(a.X, a.Y, a.W, a.H), a.Area ?? a.W * a.H, a.Crowd)).ToList());

    private static (long, long, double, double, double, double, bool, double?) Box(long img, long cat, double x, double y, double w, double h, bool crowd = false, double? area = null) =>
        (img, cat, x, y, w, h, crowd, area);

    private static CocoResult Det(long img, long cat, double x, double y, double w, double h, double score) => new(img, cat, new CocoBox(x, y, w, h), score);

    [Fact]
    public void A_perfect_detection_scores_one_and_empty_area_ranges_are_minus_one()
    {
        // One 10x10 object (area 100: small) found exactly. Medium and large have no ground truth -> -1, as pycocotools.
        var gt = Gt([1], [1], Box(1, 1, 0, 0, 10, 10));
        var m = CocoEvaluator.Evaluate(gt, [Det(1, 1, 0, 0, 10, 10, 0.9)]);
        double[] expected = [1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1];
        for (var i = 0; i < 12; i++)
            Assert.True(Math.Abs(m.Stats[i] - expected[i]) < Tol, $"{CocoMetrics.Names[i]} = {m.Stats[i]}, expected {expected[i]}");
    }

    [Fact]
    public void Score_ties_within_an_image_keep_results_file_order()
    {
        // Same image, same score 0.5: the miss is listed first, so it ranks first: FP then TP.
        // rc = [0, 1], pr = [0, 1/2] -> made non-increasing [1/2, 1/2]; every recall threshold finds index 1 -> AP = 0.5.
        // (Ranked the other way round it would be 1.)
        var gt = Gt([1], [1], Box(1, 1, 0, 0, 10, 10));
        var m = CocoEvaluator.Evaluate(gt, [Det(1, 1, 50, 50, 10, 10, 0.5), Det(1, 1, 0, 0, 10, 10, 0.5)]);
        Assert.Equal(0.5, m.AP, Tol);
        Assert.Equal(0.5, m.AP50, Tol);
        Assert.Equal(1.0, m.AR100, Tol);
        // AR1 keeps only the first-ranked detection of the image, the miss.
        Assert.Equal(0.0, m.AR1, Tol);
    }

    [Fact]
    public void Score_ties_across_images_are_broken_by_image_id_not_by_file_order()
    {
        // Images listed as [2, 1]; one object in each. The results file lists first the miss on image 2, then the hit on
        // image 1, both at score 0.5. pycocotools concatenates per-image lists in sorted image-id order and sorts stably,
        // so the hit (image 1) ranks first: TP, FP -> rc = [1/2, 1/2], pr = [1, 1/2]. Recall thresholds 0..0.50
        // (51 of them; 50·0.01 is exactly 0.5) find index 0 (precision 1); the rest lie past the last recall -> 0.
        // AP = 51/101 at every IoU threshold. (File order would give FP, TP: 0.5·51/101.)
        var gt = Gt([2, 1], [1], Box(1, 1, 0, 0, 10, 10), Box(2, 1, 0, 0, 10, 10));
        var m = CocoEvaluator.Evaluate(gt, [Det(2, 1, 50, 50, 10, 10, 0.5), Det(1, 1, 0, 0, 10, 10, 0.5)]);
        Assert.Equal(51.0 / 101, m.AP, Tol);
        Assert.Equal(0.5, m.AR100, Tol);
    }

    [Fact]
    public void Matching_is_greedy_by_score_not_an_optimal_assignment()
    {
        // Objects g1 = [0,0,10,10], g2 = [20,0,10,10] (npig = 2). dA (0.9) = [2,0,10,10]: IoU with g1 = 80/120 = 2/3.
        // dB (0.8) = g1 exactly. At t in {.50,.55,.60,.65} dA takes g1 first, so dB (IoU 0 with g2) is a FP:
        //   TP, FP -> rc = [1/2, 1/2], pr = [1, 1/2] -> AP_t = 51/101.
        // At t in {.70,...,.95} dA matches nothing (FP) and dB takes g1: FP, TP -> pr = [0, 1/2] -> [1/2, 1/2] -> AP_t = 25.5/101.
        // AP = (4·51 + 6·25.5)/1010 = 357/1010; AP50 = 51/101; AP75 = 25.5/101.
        // AR100 = 1/2 at every t. AR1 (dA only) = 1/2 at the four low thresholds, 0 above -> 4·0.5/10 = 0.2.
        var gt = Gt([1], [1], Box(1, 1, 0, 0, 10, 10), Box(1, 1, 20, 0, 10, 10));
        var m = CocoEvaluator.Evaluate(gt, [Det(1, 1, 2, 0, 10, 10, 0.9), Det(1, 1, 0, 0, 10, 10, 0.8)]);
        Assert.Equal(357.0 / 1010, m.AP, Tol);
        Assert.Equal(51.0 / 101, m.AP50, Tol);
        Assert.Equal(25.5 / 101, m.AP75, Tol);
        Assert.Equal(0.5, m.AR100, Tol);
        Assert.Equal(0.2, m.AR1, Tol);
    }

    [Fact]
    public void An_iou_tie_between_two_objects_goes_to_the_later_one()
    {
        // g1 = [0,0,10,10], g2 = [6,0,10,10]; dA (0.9) = [3,0,10,10] overlaps each by 7x10: IoU 70/130 = 0.538 with both.
        // pycocotools replaces its candidate on IoU >= best, so dA takes g2. dB (0.8) = g1 exactly then takes g1.
        // At t = .50 both are TP -> AP50 = 1. (Had dA taken g1, dB's IoU with g2 is 40/160 = 0.25: FP, AP50 = 51/101.)
        var gt = Gt([1], [1], Box(1, 1, 0, 0, 10, 10), Box(1, 1, 6, 0, 10, 10));
        var m = CocoEvaluator.Evaluate(gt, [Det(1, 1, 3, 0, 10, 10, 0.9), Det(1, 1, 0, 0, 10, 10, 0.8)]);
        Assert.Equal(1.0, m.AP50, Tol);
    }

    [Fact]
    public void Crowd_regions_absorb_detections_without_counting_as_objects()
    {
        // g1 = [0,0,10,10] (area 100), crowd c = [20,0,40,40] (area 1600). dC1 (0.95) = [20,0,10,10] and dC2 (0.93) =
        // [25,5,10,10] lie inside c: IoU with a crowd divides by the detection's area -> 100/100 = 1, so both match c
        // (a crowd can be matched repeatedly) and are ignored. dH (0.9) hits g1, dM (0.6) misses.
        // Counted sequence: TP, FP -> rc = [1, 1], pr = [1, 1/2] -> [1, 1/2] -> AP = 1 at every threshold, AR = 1.
        // (Counted as false positives, or with the ordinary union 100/1600 = 0.0625, they would make AP = 1/3.)
        // The crowd is not an object: npig = 1, so AR100 = 1, not 1/2.
        var gt = Gt([1], [1], Box(1, 1, 0, 0, 10, 10), Box(1, 1, 20, 0, 40, 40, crowd: true));
        var m = CocoEvaluator.Evaluate(gt,
            [Det(1, 1, 20, 0, 10, 10, 0.95), Det(1, 1, 25, 5, 10, 10, 0.93), Det(1, 1, 0, 0, 10, 10, 0.9), Det(1, 1, 100, 100, 10, 10, 0.6)]);
        Assert.Equal(1.0, m.AP, Tol);
        Assert.Equal(1.0, m.AR100, Tol);
        // The crowd's area (1600) is medium, but a crowd is always ignored: medium has no object -> -1.
        Assert.Equal(-1.0, m.APMedium, Tol);
    }

    [Fact]
    public void A_crowd_only_category_is_left_out_like_a_category_without_ground_truth()
    {
        // Category 2 has only a crowd annotation: no non-ignored object -> -1 -> excluded; category 1 alone gives AP = 1.
        var gt = Gt([1], [1, 2], Box(1, 1, 0, 0, 10, 10), Box(1, 2, 50, 50, 20, 20, crowd: true));
        var m = CocoEvaluator.Evaluate(gt, [Det(1, 1, 0, 0, 10, 10, 0.9), Det(1, 2, 80, 80, 10, 10, 0.9)]);
        Assert.Equal(1.0, m.AP, Tol);
        Assert.Equal(-1.0, m.PerCategoryAP[2]);
    }

    [Fact]
    public void A_match_to_a_regular_object_is_not_replaced_by_an_equally_good_crowd()
    {
        // g1 and a crowd cover the same 10x10 square; ground truth is ordered regular first. The detection takes g1 (IoU 1),
        // then reaches the crowd with a regular match in hand and stops, even though the crowd's IoU is also 1 (without
        // that rule ties would go to the later crowd, the detection would be ignored and AP would be 0).
        var gt = Gt([1], [1], Box(1, 1, 0, 0, 10, 10, crowd: true), Box(1, 1, 0, 0, 10, 10));
        var m = CocoEvaluator.Evaluate(gt, [Det(1, 1, 0, 0, 10, 10, 0.9)]);
        Assert.Equal(1.0, m.AP, Tol);
        Assert.Equal(1.0, m.AR100, Tol);
    }

    [Fact]
    public void Empty_images_and_a_category_without_ground_truth()
    {
        // Images 1..4. Cat 1: object on image 1; a FP (0.95) on image 2 (which has no objects) outranks the hit (0.9):
        //   FP, TP -> pr = [0, 1/2] -> [1/2, 1/2] -> AP_cat1 = 1/2 (rc reaches 1 at index 1, all thresholds).
        // Cat 2: object on image 3, hit -> AP_cat2 = 1. Cat 3: no ground truth, one detection -> -1, not in the mean.
        // Image 4 has nothing at all. AP = mean over the 10·101·2 entries of 1/2 and 1 = 0.75 (it would be 0.5 if cat 3
        // counted as 0). AR100 = mean(1, 1) = 1. AR1: image 2's FP is cat 1's only detection there, image 1 keeps its hit.
        var gt = Gt([1, 2, 3, 4], [1, 2, 3], Box(1, 1, 0, 0, 10, 10), Box(3, 2, 0, 0, 20, 20));
        var m = CocoEvaluator.Evaluate(gt,
            [Det(2, 1, 0, 0, 10, 10, 0.95), Det(1, 1, 0, 0, 10, 10, 0.9), Det(3, 2, 0, 0, 20, 20, 0.7), Det(2, 3, 5, 5, 10, 10, 0.99)]);
        Assert.Equal(0.75, m.AP, Tol);
        Assert.Equal(0.5, m.PerCategoryAP[1], Tol);
        Assert.Equal(1.0, m.PerCategoryAP[2], Tol);
        Assert.Equal(-1.0, m.PerCategoryAP[3]);
        Assert.Equal(1.0, m.AR100, Tol);
        Assert.Equal(1.0, m.AR1, Tol);
    }

    [Fact]
    public void No_detections_give_zero_where_there_are_objects()
    {
        var gt = Gt([1, 2], [1], Box(1, 1, 0, 0, 50, 50));
        var m = CocoEvaluator.Evaluate(gt, []);
        // area 2500 is medium: AP, APm, AR* = 0; small and large have no objects: -1.
        double[] expected = [0, 0, 0, -1, 0, -1, 0, 0, 0, -1, 0, -1];
        Assert.Equal(expected, m.Stats);
    }

    [Fact]
    public void Area_ranges_use_the_annotation_area_and_ignore_unmatched_detections_outside_the_range()
    {
        // Object [0,0,40,40] with annotation area 1000 (< 32^2: small, although its box is 1600). A FP of 5x5 (area 25) at
        // 0.9 outranks the hit (0.8). 'all' and 'small': FP, TP -> AP = 1/2. 'medium': the object (area 1000) is ignored,
        // so medium has no object -> -1. A second image holds a medium object (area 2000) hit at 0.7, and the small FP
        // is outside medium and unmatched -> ignored there, so APm = 1.
        var gt = Gt([1, 2], [1], Box(1, 1, 0, 0, 40, 40, area: 1000), Box(2, 1, 0, 0, 40, 50, area: 2000));
        var m = CocoEvaluator.Evaluate(gt, [Det(1, 1, 100, 100, 5, 5, 0.9), Det(1, 1, 0, 0, 40, 40, 0.8), Det(2, 1, 0, 0, 40, 50, 0.7)]);
        // small: FP, TP (image 1); image 2's detection matches its object, which is ignored in 'small', so it is ignored -> 1/2.
        Assert.Equal(0.5, m.APSmall, Tol);
        Assert.Equal(1.0, m.APMedium, Tol);
        // all: FP, TP, TP over 2 objects -> rc = [0, 1/2, 1], pr = [0, 1/2, 2/3] -> [2/3, 2/3, 2/3] -> AP = 2/3.
        Assert.Equal(2.0 / 3, m.AP, Tol);
    }

    [Fact]
    public void An_area_of_exactly_32_squared_is_both_small_and_medium()
    {
        var gt = Gt([1], [1], Box(1, 1, 0, 0, 32, 32));
        var m = CocoEvaluator.Evaluate(gt, [Det(1, 1, 0, 0, 32, 32, 0.9)]);
        Assert.Equal(1.0, m.APSmall, Tol);
        Assert.Equal(1.0, m.APMedium, Tol);
        Assert.Equal(-1.0, m.APLarge);
    }

    [Fact]
    public void Only_the_first_max_dets_detections_of_an_image_count()
    {
        // Two objects; detections by score: a miss (0.9), then hits on both (0.8, 0.7).
        // AR1: only the miss -> 0. AR10: both found -> 1. AP: FP, TP, TP -> pr = [0, 1/2, 2/3] -> [2/3, 2/3, 2/3] -> 2/3.
        var gt = Gt([1], [1], Box(1, 1, 0, 0, 10, 10), Box(1, 1, 50, 0, 10, 10));
        var m = CocoEvaluator.Evaluate(gt, [Det(1, 1, 100, 100, 10, 10, 0.9), Det(1, 1, 0, 0, 10, 10, 0.8), Det(1, 1, 50, 0, 10, 10, 0.7)]);
        Assert.Equal(0.0, m.AR1, Tol);
        Assert.Equal(1.0, m.AR10, Tol);
        Assert.Equal(2.0 / 3, m.AP, Tol);
    }

    [Fact]
    public void Detections_beyond_one_hundred_per_image_and_category_are_dropped()
    {
        // 100 misses at 0.9 rank before a hit at 0.1 on the same image: the hit is the 101st and never evaluated -> 0.
        var gt = Gt([1], [1], Box(1, 1, 0, 0, 10, 10));
        var dets = Enumerable.Range(0, 100).Select(i => Det(1, 1, 100 + i, 100, 5, 5, 0.9)).Append(Det(1, 1, 0, 0, 10, 10, 0.1)).ToList();
        Assert.Equal(0.0, CocoEvaluator.Evaluate(gt, dets).AR100);
        // With 99 misses the hit is the 100th: found, recall 1, precision 1/100 everywhere -> AP = 0.01.
        var m = CocoEvaluator.Evaluate(gt, dets.Skip(1).ToList());
        Assert.Equal(1.0, m.AR100, Tol);
        Assert.Equal(0.01, m.AP, Tol);
    }

    [Fact]
    public void Results_for_an_unknown_image_are_an_error_and_unknown_categories_are_dropped()
    {
        var gt = Gt([1], [1], Box(1, 1, 0, 0, 10, 10));
        var e = Assert.Throws<ArgumentException>(() => CocoEvaluator.Evaluate(gt, [Det(7, 1, 0, 0, 10, 10, 0.9)]));
        Assert.Contains("image id 7", e.Message);
        var m = CocoEvaluator.Evaluate(gt, [Det(1, 99, 0, 0, 10, 10, 0.99), Det(1, 1, 0, 0, 10, 10, 0.5)]);
        Assert.Equal(1.0, m.AP, Tol);
    }

    [Fact]
    public void Annotation_id_zero_is_rejected_with_the_reason()
    {
        var gt = new CocoDataset([new CocoImage(1, "a.png", 10, 10)], [new CocoCategory(1, "a")],
            [new CocoAnnotation(0, 1, 1, new CocoBox(0, 0, 5, 5), 25)]);
        var e = Assert.Throws<ArgumentException>(() => CocoEvaluator.Evaluate(gt, []));
        Assert.Contains("id 0", e.Message);
    }

    [Fact]
    public void Iou_thresholds_hold_exactly_point_five_and_point_seven_five()
    {
        // AP50 and AP75 pick their threshold by equality, as pycocotools does.
        Assert.Equal(0.5, CocoEvaluator.IouThresholds[0]);
        Assert.Equal(0.75, CocoEvaluator.IouThresholds[5]);
        Assert.Equal(0.95, CocoEvaluator.IouThresholds[9]);
        Assert.Equal(101, CocoEvaluator.RecallThresholds.Count);
        Assert.Equal(0.5, CocoEvaluator.RecallThresholds[50]);
    }

    [Fact]
    public void Numpy_style_pairwise_sum_equals_the_exact_sum_of_representable_values()
    {
        // Integers well below 2^53 add exactly in any order, so the pairwise sum must equal the plain total.
        var values = Enumerable.Range(0, 1000).Select(i => (double)(i * 7 % 131)).ToList();
        Assert.Equal(values.Sum(), CocoEvaluator.NumpySum(values));
    }

    [Fact]
    public void Metrics_json_lists_the_twelve_names_in_pycocotools_order()
    {
        var m = new CocoMetrics(Enumerable.Range(0, 12).Select(i => i / 10.0).ToArray(), new Dictionary<long, double>());
        var json = System.Text.Json.JsonDocument.Parse(m.ToJson());
        Assert.Equal(CocoMetrics.Names, json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(0.3, m["APs"]);
        Assert.Contains("area= small", m.Summary().Split('\n')[3]);
    }
}
