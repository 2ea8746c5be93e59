using SkiaSharp;
using VisionRwkv.Datasets.Sources;

namespace VisionRwkv.Datasets.Tests;

public sealed class ChestXrayTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private void Png(string rel) => TestFiles.EncodeGray(4, 4, (x, y) => (byte)(x * 40 + y), dir.File(rel), SKEncodedImageFormat.Png);

    private void WriteNih()
    {
        // The published header, trailing empty column included.
        File.WriteAllText(dir.File("nih/Data_Entry_2017.csv"),
            "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n" +
            "00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,\n" +
            "00000001_001.png,Cardiomegaly|Emphysema,1,1,58,M,PA,2894,2729,0.143,0.143,\n" +
            "00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.171,0.171,\n" +
            "00000003_000.png,Hernia|Pleural_Thickening,0,3,74,F,AP,2500,2048,0.168,0.168,\n" +
            "00000004_000.png,Mass,0,4,40,F,PA,2500,2048,0.168,0.168,\n");
        File.WriteAllText(dir.File("nih/train_val_list.txt"), "00000001_000.png\n00000001_001.png\n00000002_000.png\n00000004_000.png\n");
        File.WriteAllText(dir.File("nih/test_list.txt"), "00000003_000.png\n");
        Png("nih/images_001/images/00000001_000.png");
        Png("nih/images_001/images/00000001_001.png");
        Png("nih/images_002/images/00000002_000.png");
        Png("nih/images_002/images/00000003_000.png");
        // 00000004_000.png is absent: recorded as missing, the rest still loads.
    }

    [Fact]
    public void Nih_entries_split_finding_labels_on_bars_and_read_no_finding_as_all_negative()
    {
        WriteNih();
        var (trainVal, test) = NihChestXray14.Open(dir.File("nih"));
        Assert.Equal(3, trainVal.Count);
        Assert.Single(test.Items);
        Assert.Equal(14, trainVal.Classes.Count);
        var second = trainVal.Items.Single(i => i.ImageId == "00000001_001.png");
        Assert.Equal(["Cardiomegaly", "Emphysema"], trainVal.LabelsOf(trainVal.Items.ToList().IndexOf(second)).Select(k => trainVal.Classes[k]));
        Assert.Equal("1", second.PatientId);
        Assert.All(trainVal.Items.Single(i => i.ImageId == "00000002_000.png").Targets, t => Assert.Equal(0f, t));
        Assert.Equal(["Pleural_Thickening", "Hernia"], test.LabelsOf(0).Select(k => test.Classes[k]));
        Assert.Contains(trainVal.Missing, m => m.Contains("00000004_000.png", StringComparison.Ordinal) && m.Contains("Data_Entry_2017.csv:6", StringComparison.Ordinal));
        Assert.Equal(4, trainVal.Load(0, Imaging.DecodeOptions.Default).Width);
    }

    [Fact]
    public void An_unknown_nih_finding_is_an_error_naming_the_line()
    {
        File.WriteAllText(dir.File("bad/Data_Entry_2017.csv"), "Image Index,Finding Labels,Patient ID\na.png,Cardiomegaly|Pneumonitis,7\n");
        var e = Assert.Throws<InvalidDataException>(() => NihChestXray14.Read(dir.File("bad/Data_Entry_2017.csv"), dir.File("bad")));
        Assert.Contains("Data_Entry_2017.csv:2", e.Message);
        Assert.Contains("Pneumonitis", e.Message);
    }

    private string WriteCheXpert()
    {
        var csv = dir.File("chexpert/CheXpert-v1.0-small/valid.csv");
        File.WriteAllText(csv,
            "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices\n" +
            "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg,Male,73,Frontal,AP,,,1.0,,,-1.0,0.0,,,0.0,,,,\n" +
            "CheXpert-v1.0-small/valid/patient64541/study1/view2_lateral.jpg,Male,73,Lateral,,,,1.0,,,-1.0,0.0,,,0.0,,,,\n" +
            "CheXpert-v1.0-small/valid/patient64542/study1/view1_frontal.jpg,Female,70,Frontal,PA,1.0,,0.0,,,,,,-1.0,,,,,\n");
        foreach (var f in new[] { "patient64541/study1/view1_frontal.jpg", "patient64541/study1/view2_lateral.jpg", "patient64542/study1/view1_frontal.jpg" })
            TestFiles.EncodeGray(4, 4, (x, y) => 100, dir.File("chexpert/CheXpert-v1.0-small/valid/" + f), SKEncodedImageFormat.Jpeg);
        return csv;
    }

    [Theory]
    [InlineData(UncertaintyPolicy.Ignore, float.NaN)]
    [InlineData(UncertaintyPolicy.Zeros, 0f)]
    [InlineData(UncertaintyPolicy.Ones, 1f)]
    public void CheXpert_uncertain_labels_follow_the_policy(UncertaintyPolicy policy, float uncertain)
    {
        var csv = WriteCheXpert();
        var ds = CheXpert.Read(csv, dir.File("chexpert/CheXpert-v1.0-small"), policy, CheXpert.CompetitionTasks);
        Assert.Equal(3, ds.Count);
        Assert.Empty(ds.Missing);
        // Columns: Atelectasis, Cardiomegaly, Consolidation, Edema, Pleural Effusion.
        Assert.Equal([0f, 1f, 0f, uncertain, 0f], ds.TargetsOf(0)); // blank Atelectasis and Pleural Effusion read as 0
        Assert.Equal([uncertain, 0f, 0f, 0f, 0f], ds.TargetsOf(2));
        Assert.Equal("patient64541", ds.GroupOf(0));
        Assert.Equal(ds.GroupOf(0), ds.GroupOf(1));
        Assert.Equal("patient64542", ds.GroupOf(2));
        Assert.Equal(policy == UncertaintyPolicy.Ones ? [1, 3] : [1], ds.LabelsOf(0));
    }

    [Fact]
    public void CheXpert_blanks_can_be_masked_and_a_bad_value_names_the_line()
    {
        var csv = WriteCheXpert();
        var ds = CheXpert.Read(csv, dir.File("chexpert"), UncertaintyPolicy.Zeros, CheXpert.CompetitionTasks, blankAsNegative: false);
        Assert.True(float.IsNaN(ds.TargetsOf(0)[0]));
        Assert.Equal(3, ds.Count); // resolved with the release folder kept in the path
        File.WriteAllText(csv, File.ReadAllText(csv).Replace("-1.0,0.0,,,0.0", "maybe,0.0,,,0.0", StringComparison.Ordinal));
        var e = Assert.Throws<InvalidDataException>(() => CheXpert.Read(csv, dir.File("chexpert"), UncertaintyPolicy.Zeros));
        Assert.Contains("valid.csv:2", e.Message);
        Assert.Contains("Edema", e.Message);
    }
}

public sealed class MimicCxrTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Mimic_images_take_their_study_labels_and_subject_as_patient()
    {
        File.WriteAllText(dir.File("mimic/mimic-cxr-2.0.0-chexpert.csv"),
            "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices\n" +
            "10000032,50414267,,1.0,,-1.0,,,,,,0.0,,,,\n" +
            "10000764,57375967,1.0,,,,,,,,,,,,,\n");
        File.WriteAllText(dir.File("mimic/mimic-cxr-2.0.0-metadata.csv"),
            "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns\n" +
            "02aa804e,10000032,50414267,CHEST (PA AND LAT),PA,3056,2544\n" +
            "174413ec,10000032,50414267,CHEST (PA AND LAT),LATERAL,3056,2544\n" +
            "096052b7,10000764,57375967,CHEST (PORTABLE AP),AP,3056,2544\n" +
            "ffffffff,10000764,59999999,CHEST (PORTABLE AP),AP,3056,2544\n");
        foreach (var f in new[] { "p10/p10000032/s50414267/02aa804e.jpg", "p10/p10000032/s50414267/174413ec.jpg", "p10/p10000764/s57375967/096052b7.jpg" })
            TestFiles.EncodeGray(4, 4, (x, y) => 90, dir.File("mimic/files/" + f), SKEncodedImageFormat.Jpeg);
        var ds = MimicCxrJpg.Read(dir.File("mimic"), UncertaintyPolicy.Ignore, CheXpert.CompetitionTasks, views: new HashSet<string> { "PA", "AP" });
        Assert.Equal(["02aa804e", "096052b7"], ds.Items.Select(i => i.ImageId));
        Assert.Equal([0f, 1f, 0f, float.NaN, 0f], ds.TargetsOf(0));
        Assert.Equal([1f, 0f, 0f, 0f, 0f], ds.TargetsOf(1));
        Assert.Equal("10000032", ds.GroupOf(0));
        Assert.Single(ds.Missing); // the study without labels
        Assert.Contains("59999999", ds.Missing[0], StringComparison.Ordinal);
        var all = MimicCxrJpg.Read(dir.File("mimic"), UncertaintyPolicy.Ones, CheXpert.CompetitionTasks);
        Assert.Equal(3, all.Count);
        Assert.Equal(all.GroupOf(0), all.GroupOf(1));
        Assert.Equal(1f, all.TargetsOf(0)[3]);
    }
}
