using VisionRwkv.Datasets.Detection;

namespace VisionRwkv.Datasets.Tests.Detection;

public sealed class CocoFormatTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private string Json(string name, string text)
    {
        var p = dir.File(name);
        File.WriteAllText(p, text);
        return p;
    }

    private const string Valid = """
        {"images": [{"id": 3, "file_name": "a.png", "width": 64, "height": 48}, {"id": 1, "file_name": "b.png", "width": 10, "height": 10}],
         "categories": [{"id": 7, "name": "cat", "supercategory": "animal"}, {"id": 2, "name": "dog"}],
         "annotations": [
           {"id": 1, "image_id": 3, "category_id": 7, "bbox": [1.5, 2, 10, 20.25], "area": 150.5, "iscrowd": 0, "segmentation": [[1, 2, 3, 4]]},
           {"id": 2, "image_id": 3, "category_id": 2, "bbox": [0, 0, 4, 4], "iscrowd": 1},
           {"id": 5, "image_id": 1, "category_id": 2, "bbox": [1, 1, 2, 3]}]}
        """;

    [Fact]
    public void Reads_images_categories_and_annotations_with_defaults_for_missing_area_and_iscrowd()
    {
        var coco = CocoJson.Read(Json("gt.json", Valid));
        Assert.Equal([3L, 1L], coco.Images.Select(i => i.Id));
        Assert.Equal(64, coco.Images[0].Width);
        Assert.Equal("animal", coco.Categories[0].Supercategory);
        var a = coco.Annotations[0];
        Assert.Equal(new CocoBox(1.5, 2, 10, 20.25), a.Bbox);
        Assert.Equal(150.5, a.Area);
        Assert.False(a.IsCrowd);
        Assert.True(coco.Annotations[1].IsCrowd);
        Assert.Equal(16, coco.Annotations[1].Area); // no 'area': w*h
        Assert.Equal(new BoundingBox(1.5, 2, 11.5, 22.25), a.Bbox.ToBox());
        Assert.Equal(2, coco.AnnotationsByImage()[3].Count);
    }

    [Fact]
    public void Writing_and_reading_back_gives_the_same_data_set_and_exact_doubles()
    {
        var coco = CocoJson.Read(Json("gt.json", Valid));
        var odd = coco with { Annotations = [.. coco.Annotations, new CocoAnnotation(9, 1, 7, new CocoBox(0.1 + 0.2, 1.0 / 3, Math.PI, 1e-7), 0.1 * 3, false)] };
        var path = dir.File("out.json");
        CocoJson.Write(path, odd);
        var back = CocoJson.Read(path);
        Assert.Equal(odd.Images, back.Images);
        Assert.Equal(odd.Categories, back.Categories);
        Assert.Equal(odd.Annotations, back.Annotations);

        CocoResult[] results = [new(3, 7, new CocoBox(1.0 / 7, 2, 3, 4), 0.1 + 0.7), new(1, 2, new CocoBox(0, 0, 1, 1), 1e-300)];
        var resPath = dir.File("res.json");
        CocoJson.WriteResults(resPath, results);
        Assert.Equal(results, CocoJson.ReadResults(resPath));
    }

    [Theory]
    [InlineData("""{"images": [], "annotations": [{"id": 1, "image_id": 1, "category_id": 1}]}""", "image_id 1 is not in 'images'")]
    [InlineData("""{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1}]}""", "annotations[0] has no 'bbox'")]
    [InlineData("""{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 4, "bbox": [0,0,1,1]}]}""", "category_id 4 is not in 'categories'")]
    [InlineData("""{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0,0,-1,1]}]}""", "negative width or height")]
    [InlineData("""{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0,0,1]}]}""", "list of 4 numbers")]
    [InlineData("""{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0,"x",1,1]}]}""", "must be a finite number")]
    [InlineData("""{"images": [{"id": 1}, {"id": 1}]}""", "duplicate image id 1")]
    [InlineData("""{"images": [{"id": "one"}]}""", "images[0].id must be an integer")]
    [InlineData("""{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "iscrowd": 2}]}""", "iscrowd must be 0 or 1")]
    [InlineData("""[{"image_id": 1}]""", "the top level must be an object")]
    [InlineData("""{"categories": []}""", "has no 'images' list")]
    [InlineData("""{"images": [{"id": 1},]}""", "invalid JSON at line 1, byte")]
    [InlineData("", "the file is empty")]
    public void Bad_files_give_one_line_errors_naming_the_file_and_the_problem(string text, string problem)
    {
        var path = Json("bad.json", text);
        var e = Assert.Throws<InvalidDataException>(() => CocoJson.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_results_file_without_a_score_is_an_error()
    {
        var path = Json("res.json", """[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}]""");
        var e = Assert.Throws<InvalidDataException>(() => CocoJson.ReadResults(path));
        Assert.Contains("[0] has no 'score'", e.Message);
    }

    [Fact]
    public void Json_syntax_errors_report_the_line_and_byte()
    {
        var path = Json("bad.json", "{\"images\": [\n  {\"id\": 1}\n  {\"id\": 2}]}");
        var e = Assert.Throws<InvalidDataException>(() => CocoJson.Read(path));
        Assert.Contains("line 3, byte 3", e.Message);
    }
}
