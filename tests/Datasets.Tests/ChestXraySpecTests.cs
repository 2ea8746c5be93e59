using SkiaSharp;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;

namespace VisionRwkv.Datasets.Tests;

/// <summary>The nih:/chexpert:/mimic: data specs: official splits, a validation split by patient, masked targets.</summary>
public sealed class ChestXraySpecTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private void Png(string rel) => TestFiles.EncodeGray(4, 4, (x, y) => (byte)(x * 40 + y), dir.File(rel), SKEncodedImageFormat.Png);

    /// <summary>40 patients with 1-4 images each; patients 1-30 are train_val, 31-40 test (the official lists are by patient).</summary>
    private string WriteNih()
    {
        var csv = new System.Text.StringBuilder("Image Index,Finding Labels,Follow-up #,Patient ID\n");
        var trainVal = new List<string>();
        var test = new List<string>();
        string[] findings = ["No Finding", "Cardiomegaly", "Effusion|Nodule", "Mass", "No Finding"];
        for (int p = 1; p <= 40; p++)
        {
            for (int s = 0; s < 1 + p % 4; s++)
            {
                var name = $"{p:D8}_{s:D3}.png";
                csv.Append($"{name},{findings[(p + s) % findings.Length]},{s},{p}\n");
                (p <= 30 ? trainVal : test).Add(name);
                Png($"nih/images_{1 + p % 3:D3}/images/{name}");
            }
        }
        File.WriteAllText(dir.File("nih/Data_Entry_2017.csv"), csv.ToString());
        File.WriteAllText(dir.File("nih/train_val_list.txt"), string.Join('\n', trainVal) + "\n");
        File.WriteAllText(dir.File("nih/test_list.txt"), string.Join('\n', test) + "\n");
        return dir.File("nih");
    }

    private static HashSet<string> Patients(IImageDataset? d) =>
        d is null ? [] : [.. Enumerable.Range(0, d.Count).Select(i => d.GroupOf(i) ?? throw new InvalidOperationException("no patient"))];

    [Theory]
    [InlineData(1L)]
    [InlineData(7L)]
    [InlineData(123L)]
    public void Nih_spec_uses_the_official_test_list_and_no_patient_crosses_splits(long seed)
    {
        var splits = DataSources.Open("nih:" + WriteNih(), 0.25, seed);
        Assert.NotNull(splits.Validation);
        Assert.NotNull(splits.Test);
        Assert.True(splits.Train.IsMultiLabel);
        var train = Patients(splits.Train);
        var val = Patients(splits.Validation);
        var test = Patients(splits.Test);
        Assert.Empty(train.Intersect(val));
        Assert.Empty(train.Intersect(test));
        Assert.Empty(val.Intersect(test));
        Assert.Equal(Enumerable.Range(31, 10).Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToHashSet(), test);
        Assert.Equal(30, train.Count + val.Count);
        // Every image of a validation patient is in validation.
        int valImages = Enumerable.Range(1, 30).Where(p => val.Contains(p.ToString(System.Globalization.CultureInfo.InvariantCulture))).Sum(p => 1 + p % 4);
        Assert.Equal(valImages, splits.Validation!.Count);
        Assert.InRange(splits.Validation.Count, 10, 35);
    }

    [Fact]
    public void Nih_spec_finds_dicom_copies_of_the_images()
    {
        var root = WriteNih();
        // Replace one PNG by a file of the same stem with .dcm: the listed name is still the .png, so it is missing;
        // a listed .dcm name is found.
        File.WriteAllText(Path.Combine(root, "Data_Entry_2017.csv"), "Image Index,Finding Labels,Patient ID\nx.dcm,Mass,9\n");
        File.WriteAllText(Path.Combine(root, "train_val_list.txt"), "x.dcm\n");
        File.WriteAllText(Path.Combine(root, "test_list.txt"), "\n");
        File.WriteAllBytes(Path.Combine(root, "images_001", "x.dcm"), [0]);
        var (trainVal, _) = NihChestXray14.Open(root);
        Assert.Equal(Path.Combine(root, "images_001", "x.dcm"), trainVal.NameOf(0));
    }

    private string WriteCheXpert()
    {
        var root = dir.File("chexpert/CheXpert-v1.0-small");
        const string header = "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices\n";
        var train = new System.Text.StringBuilder(header);
        for (int p = 1; p <= 12; p++)
        {
            for (int s = 1; s <= 2; s++)
            {
                var rel = $"CheXpert-v1.0-small/train/patient{p:D5}/study{s}/view1_frontal.jpg";
                // Cardiomegaly uncertain for odd patients, Edema positive for multiples of three.
                train.Append($"{rel},Male,50,Frontal,AP,,,{(p % 2 == 1 ? "-1.0" : "0.0")},,,{(p % 3 == 0 ? "1.0" : "0.0")},,,,,,,,\n");
                TestFiles.EncodeGray(4, 4, (x, y) => 100, dir.File($"chexpert/CheXpert-v1.0-small/train/patient{p:D5}/study{s}/view1_frontal.jpg"), SKEncodedImageFormat.Jpeg);
            }
        }
        File.WriteAllText(dir.File("chexpert/CheXpert-v1.0-small/train.csv"), train.ToString());
        File.WriteAllText(dir.File("chexpert/CheXpert-v1.0-small/valid.csv"), header
            + "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg,Male,73,Frontal,AP,,,1.0,,,-1.0,0.0,,,0.0,,,,\n");
        TestFiles.EncodeGray(4, 4, (x, y) => 100, dir.File("chexpert/CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg"), SKEncodedImageFormat.Jpeg);
        return root;
    }

    [Theory]
    [InlineData("", float.NaN)]
    [InlineData("?policy=ignore", float.NaN)]
    [InlineData("?policy=zeros", 0f)]
    [InlineData("?policy=ones", 1f)]
    public void CheXpert_spec_applies_the_policy_and_splits_by_patient(string option, float uncertain)
    {
        var splits = DataSources.Open("chexpert:" + WriteCheXpert() + option, 0.25, 3);
        Assert.Equal(1, splits.Test!.Count);
        Assert.Empty(Patients(splits.Train).Intersect(Patients(splits.Validation)));
        Assert.Equal(24, splits.Train.Count + splits.Validation!.Count);
        int cardio = splits.Classes.IndexOf("Cardiomegaly");
        // The masked target survives the SubsetDataset view the split makes.
        for (int i = 0; i < splits.Train.Count; i++)
        {
            int patient = int.Parse(splits.Train.GroupOf(i)!["patient".Length..], System.Globalization.CultureInfo.InvariantCulture);
            var t = splits.Train.TargetsOf(i)!;
            Assert.Equal(patient % 2 == 1 ? uncertain : 0f, t[cardio]);
        }
    }

    [Fact]
    public void Mimic_spec_uses_the_official_split_file_with_its_validate_part()
    {
        // Six subjects, one study and one image each; the split file puts two in validate and two in test.
        var labels = new System.Text.StringBuilder("subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion\n");
        var meta = new System.Text.StringBuilder("dicom_id,subject_id,study_id,ViewPosition\n");
        var split = new System.Text.StringBuilder("dicom_id,study_id,subject_id,split\n");
        string[] parts = ["train", "train", "validate", "validate", "test", "test"];
        for (int i = 0; i < 6; i++)
        {
            string subject = $"1000000{i}", study = $"5000000{i}", dicom = $"d{i}";
            labels.Append($"{subject},{study},1.0,-1.0,,0.0,\n");
            meta.Append($"{dicom},{subject},{study},PA\n");
            split.Append($"{dicom},{study},{subject},{parts[i]}\n");
            TestFiles.EncodeGray(4, 4, (x, y) => 90, dir.File($"mimic/files/p10/p{subject}/s{study}/{dicom}.jpg"), SKEncodedImageFormat.Jpeg);
        }
        File.WriteAllText(dir.File("mimic/mimic-cxr-2.0.0-chexpert.csv"), labels.ToString());
        File.WriteAllText(dir.File("mimic/mimic-cxr-2.0.0-metadata.csv"), meta.ToString());
        var root = dir.File("mimic");
        var noSplit = DataSources.Open($"mimic:{root}?labels=competition", 0.34, 2);
        Assert.Null(noSplit.Test);
        Assert.Empty(Patients(noSplit.Train).Intersect(Patients(noSplit.Validation)));
        File.WriteAllText(dir.File("mimic/mimic-cxr-2.0.0-split.csv"), split.ToString());
        var splits = DataSources.Open($"mimic:{root}?policy=ones&labels=competition", 0.34, 2);
        Assert.Equal(["10000000", "10000001"], Patients(splits.Train).Order());
        Assert.Equal(["10000002", "10000003"], Patients(splits.Validation).Order());
        Assert.Equal(["10000004", "10000005"], Patients(splits.Test).Order());
        Assert.Equal(1f, splits.Test!.TargetsOf(0)![splits.Classes.IndexOf("Cardiomegaly")]); // -1 under U-Ones
    }

    [Fact]
    public void A_bad_policy_is_an_error_naming_the_spec()
    {
        var root = WriteCheXpert();
        var e = Assert.Throws<ArgumentException>(() => DataSources.Open("chexpert:" + root + "?policy=maybe", 0.25, 3));
        Assert.Contains("maybe", e.Message);
    }

    [Fact]
    public void The_loader_carries_masked_labels_as_nan_and_the_rest_as_multi_hot()
    {
        var splits = DataSources.Open("chexpert:" + WriteCheXpert(), 0, 3);
        var pipeline = ImagePipeline.Eval(new DataConfig(1, 4, 4, [0.5f], [0.5f]));
        var loader = new DataLoader(splits.Train, pipeline, new LoaderOptions { BatchSize = 24, Threads = 1 });
        using var batch = loader.GetBatches(0).Single();
        var t = batch.Targets.data<float>().ToArray(); // [B,K]
        int k = splits.Classes.Count, cardio = splits.Classes.IndexOf("Cardiomegaly"), edema = splits.Classes.IndexOf("Edema");
        for (int r = 0; r < batch.Size; r++)
        {
            int patient = int.Parse(splits.Train.GroupOf(batch.Indices[r])!["patient".Length..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(patient % 2 == 1, float.IsNaN(t[r * k + cardio]));
            Assert.Equal(patient % 3 == 0 ? 1f : 0f, t[r * k + edema]);
        }
    }
}
