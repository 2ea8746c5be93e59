using System.Text.Json.Serialization;

namespace VisionRwkv.Labeling;

/// <summary>
/// Source-generated JSON for the labeling types: works where reflection-based serialisation is off (trimmed or AOT
/// builds, and `dotnet run file.cs` programs such as the notebooks).
/// </summary>
[JsonSerializable(typeof(LabelScore[]))]
[JsonSerializable(typeof(ExportRow))]
[JsonSerializable(typeof(LabelBenchResult))]
[JsonSourceGenerationOptions(WriteIndented = false)]
internal sealed partial class LabelingJson : JsonSerializerContext;
