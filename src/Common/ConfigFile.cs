using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace VisionRwkv.Common;

/// <summary>
/// Binds YAML and JSON config files straight into config records, keys in snake_case (<c>val_fraction</c> is
/// <c>ValFraction</c>), with YamlDotNet and System.Text.Json: no intermediate text, no hand-written per-key switch.
/// A key the record does not have is an error naming the key and the file, so a typo never passes silently.
/// Pairs such as <c>(double Min, double Max)</c> are written as two-element lists (<c>scale: [0.08, 1.0]</c>).
/// </summary>
public static class ConfigFile
{
    /// <summary>The JSON settings of every config and run file we write and read.</summary>
    public static JsonSerializerOptions Json { get; } = CreateJsonOptions();

    /// <summary>Reads <paramref name="path"/> (.yaml/.yml by YamlDotNet, anything else as JSON) into a <typeparamref name="T"/>.</summary>
    public static T Load<T>(string path) where T : class, new()
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{path}: cannot read the config ({e.Message})", e);
        }
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext is ".yaml" or ".yml" ? FromYaml<T>(text, path) : FromJson<T>(text, path);
    }

    /// <summary>Binds YAML text; <paramref name="source"/> names it in errors.</summary>
    public static T FromYaml<T>(string yaml, string source) where T : class, new()
    {
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(UnderscoredNamingConvention.Instance)
            .WithTypeConverter(new PairYamlConverter())
            .Build();
        try
        {
            return deserializer.Deserialize<T?>(yaml) ?? new T();   // an empty file keeps every default
        }
        catch (YamlException e)
        {
            throw new InvalidDataException($"{source}: {Describe(e)}", e);
        }
    }

    /// <summary>Binds JSON text; <paramref name="source"/> names it in errors.</summary>
    public static T FromJson<T>(string json, string source) where T : class, new()
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Json) ?? new T();
        }
        catch (JsonException e)
        {
            // System.Text.Json names the member and the JSON path: "The JSON property 'x' could not be mapped ...".
            var where = e.LineNumber is long line ? $" (line {line + 1})" : "";
            throw new InvalidDataException($"{source}: {FirstSentence(e.Message)}{where}", e);
        }
    }

    /// <summary>Indented snake_case JSON, the format of the run folder's run.json and config.json.</summary>
    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value, Json);

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var o = new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DictionaryKeyPolicy = null,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            // Named explicitly so the options work where reflection-based serialisation is off by default
            // (file-based apps, trimmed and AOT builds).
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        };
        o.Converters.Add(new PairJsonConverter());
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }

    private static string Describe(YamlException e)
    {
        // YamlDotNet: "Property 'foo' not found on type 'VisionRwkv.X'." -> "unknown key 'foo' in X".
        var inner = e.InnerException?.Message ?? e.Message;
        var message = inner.StartsWith("Property '", StringComparison.Ordinal) && inner.Contains("' not found on type '", StringComparison.Ordinal)
            ? "unknown key '" + inner["Property '".Length..inner.IndexOf('\'', "Property '".Length)] + "'"
              + " (known: " + string.Join(", ", KnownKeys(inner)) + ")"
            : FirstSentence(inner);
        return string.Create(CultureInfo.InvariantCulture, $"{message} at line {e.Start.Line}");
    }

    /// <summary>The snake_case keys of the type a YamlDotNet "not found on type" message names.</summary>
    private static IEnumerable<string> KnownKeys(string message)
    {
        const string marker = "' not found on type '";
        int start = message.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        int end = message.IndexOf('\'', start);
        var typeName = end > start ? message[start..end] : "";
        var type = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(typeName)).FirstOrDefault(t => t is not null);
        return type is null ? [] : type.GetProperties()
            .Where(p => p.CanWrite)
            .Select(p => UnderscoredNamingConvention.Instance.Apply(p.Name));
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(". ", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.');
    }

    /// <summary>A (double, double) pair as a two-element JSON list.</summary>
    private sealed class PairJsonConverter : JsonConverter<(double Min, double Max)>
    {
        public override (double Min, double Max) Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var values = JsonSerializer.Deserialize<double[]>(ref reader, options);
            return values is { Length: 2 } ? (values[0], values[1])
                : throw new JsonException($"expected a list of two numbers, got {values?.Length ?? 0}");
        }

        public override void Write(Utf8JsonWriter writer, (double Min, double Max) value, JsonSerializerOptions options)
        {
            writer.WriteStartArray();
            writer.WriteNumberValue(value.Min);
            writer.WriteNumberValue(value.Max);
            writer.WriteEndArray();
        }
    }

    /// <summary>A (double, double) pair as a two-element YAML sequence.</summary>
    private sealed class PairYamlConverter : IYamlTypeConverter
    {
        public bool Accepts(Type type) => type == typeof((double, double));

        public object ReadYaml(IParser parser, Type type, ObjectDeserializer rootDeserializer)
        {
            var values = (double[])rootDeserializer(typeof(double[]))!;
            if (values.Length != 2)
                throw new YamlException($"expected a list of two numbers, got {values.Length}");
            return (values[0], values[1]);
        }

        public void WriteYaml(IEmitter emitter, object? value, Type type, ObjectSerializer serializer)
        {
            var (min, max) = ((double, double))value!;
            emitter.Emit(new SequenceStart(null, null, false, SequenceStyle.Flow));
            emitter.Emit(new Scalar(min.ToString("R", CultureInfo.InvariantCulture)));
            emitter.Emit(new Scalar(max.ToString("R", CultureInfo.InvariantCulture)));
            emitter.Emit(new SequenceEnd());
        }
    }
}
