using System.Text.Json;
using System.Text.RegularExpressions;
using Moat.Oci.Internal;

namespace Moat.Oci;

/// <summary>
/// Reads and parses config.json. Every failure is an <see cref="OciConfigException"/> with a one-line message naming
/// the file and, where possible, the offending field path and value.
/// </summary>
public static partial class SpecLoader
{
    public const string ConfigFileName = "config.json";

    /// <summary>Upper bound on config.json size; real ones are a few KiB.</summary>
    public const long MaxConfigBytes = 16 * 1024 * 1024;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// Reads <c>&lt;bundleDir&gt;/config.json</c> and <see cref="Parse"/>s it. Messages name the file by its full path.
    /// Unsupported features are not rejected here; call <see cref="SpecValidator.Validate"/> for those.
    /// </summary>
    public static Spec LoadBundle(string bundleDir)
    {
        ArgumentNullException.ThrowIfNull(bundleDir);
        if (bundleDir.Length == 0)
        {
            throw new OciConfigException("bundle path must not be empty", "", null, []);
        }

        var bundle = Text.OneLine(bundleDir);
        var configPath = Path.Combine(bundleDir, ConfigFileName);
        string json;
        try
        {
            var info = new FileInfo(configPath);
            if (!info.Exists)
            {
                var why = Directory.Exists(bundleDir) ? "config.json not found" : "no such directory";
                throw new OciConfigException($"bundle {bundle}: {why}", bundle, null, []);
            }

            if (info.Length > MaxConfigBytes)
            {
                throw new OciConfigException($"bundle {bundle}: config.json is too large ({info.Length} bytes)", bundle, null, []);
            }

            json = File.ReadAllText(configPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new OciConfigException($"bundle {bundle}: cannot read config.json: {Text.OneLine(ex.Message)}", bundle, null, [], ex);
        }

        return Parse(json, Text.OneLine(configPath));
    }

    /// <summary>
    /// Deserializes and validates <paramref name="json"/>; throws on malformed JSON, wrong JSON types and spec errors
    /// (<see cref="ValidationResult.Errors"/>). Unsupported features and warnings are left to the caller.
    /// </summary>
    public static Spec Parse(string json, string source = ConfigFileName)
    {
        ArgumentNullException.ThrowIfNull(source);
        source = Text.OneLine(source);
        var spec = Deserialize(json, source);
        SpecValidator.ThrowIfErrors(SpecValidator.Validate(spec), source);
        return spec;
    }

    /// <summary>Deserializes <paramref name="json"/> without semantic validation; throws only on JSON problems.</summary>
    public static Spec Deserialize(string json, string source = ConfigFileName)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(source);
        source = Text.OneLine(source);

        // Parse once as a document: syntax errors are reported as such, and type errors below can quote the value.
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line
                ? $" at line {line + 1}, position {(ex.BytePositionInLine ?? 0) + 1}"
                : "";
            throw new OciConfigException($"{source}: invalid JSON{where}: {StripLocation(ex.Message)}", source, null, [], ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new OciConfigException($"{source}: expected a JSON object at the top level, got {Describe(document.RootElement)}", source, null, []);
            }

            try
            {
                return JsonSerializer.Deserialize(json, OciJsonContext.Default.Spec)
                    ?? throw new OciConfigException($"{source}: expected a JSON object at the top level, got null", source, null, []);
            }
            catch (JsonException ex)
            {
                throw TranslateTypeError(ex, document, source);
            }
        }
    }

    private static OciConfigException TranslateTypeError(JsonException ex, JsonDocument document, string source)
    {
        var segments = FieldPath.ParseJsonPath(ex.Path);
        var path = segments is null ? "" : FieldPath.Render(segments);
        var line = ex.LineNumber is { } l ? $" (line {l + 1})" : "";
        var message = ex.Message;
        string problem;

        Match m;
        if ((m = MissingRequiredRegex().Match(message)).Success)
        {
            // The path points at the object that lacks the members.
            var members = m.Groups["names"].Value.Split(',').Select(n => n.Trim().Trim('\'')).ToArray();
            if (members.Length == 1)
            {
                path = FieldPath.Prop(path, members[0]);
                problem = "is required" + line;
            }
            else
            {
                problem = "missing required fields " + string.Join(", ", members.Select(n => Text.Quote(n))) + line;
            }
        }
        else if (NullNotAllowedRegex().IsMatch(message))
        {
            problem = "must not be null" + line;
        }
        else if ((m = ConvertRegex().Match(message)).Success)
        {
            var value = segments is not null && TryNavigate(document.RootElement, segments, out var element)
                ? ", got " + Describe(element)
                : "";
            problem = $"expected {FriendlyType(m.Groups["type"].Value)}{value}{line}";
        }
        else
        {
            problem = StripLocation(message) + line;
        }

        var text = path.Length == 0 ? $"{source}: {problem}" : $"{source}: {path}: {problem}";
        return new OciConfigException(Text.OneLine(text, 1000), source, path.Length == 0 ? null : path, [], ex);
    }

    private static bool TryNavigate(JsonElement element, List<FieldPath.Segment> segments, out JsonElement result)
    {
        foreach (var s in segments)
        {
            if (s.Name is not null)
            {
                if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(s.Name, out element))
                {
                    result = default;
                    return false;
                }
            }
            else if (element.ValueKind != JsonValueKind.Array || s.ArrayIndex >= element.GetArrayLength())
            {
                result = default;
                return false;
            }
            else
            {
                element = element[s.ArrayIndex];
            }
        }

        result = element;
        return true;
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => TryGetString(element) is { } text ? Text.Quote(text) : Text.OneLine(element.GetRawText(), 80),
        JsonValueKind.Null => "null",
        _ => Text.OneLine(element.GetRawText(), 80),
    };

    /// <summary>The string's value, or null when it escapes a lone surrogate (GetString throws InvalidOperationException).</summary>
    private static string? TryGetString(JsonElement element)
    {
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string FriendlyType(string clrType)
    {
        var t = clrType;
        var nullable = NullableRegex().Match(t);
        if (nullable.Success)
        {
            t = nullable.Groups["inner"].Value;
        }

        return t switch
        {
            "System.String" => "a string",
            "System.Boolean" => "true or false",
            "System.Int32" => "a 32-bit integer",
            "System.Int64" => "a 64-bit integer",
            "System.UInt16" => "an unsigned 16-bit integer",
            "System.UInt32" => "an unsigned 32-bit integer",
            "System.UInt64" => "an unsigned 64-bit integer",
            _ when t.StartsWith("System.Collections.Generic.List", StringComparison.Ordinal) => "an array",
            _ when t.StartsWith("System.Collections.Generic.Dictionary", StringComparison.Ordinal) => "an object",
            _ when t.StartsWith("Moat.Oci.", StringComparison.Ordinal) => "an object",
            _ => t,
        };
    }

    /// <summary>Removes System.Text.Json's " Path: $.x | LineNumber: 1 | BytePositionInLine: 2." suffix.</summary>
    private static string StripLocation(string message)
    {
        var i = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (i < 0)
        {
            i = message.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        }

        var core = i < 0 ? message : message[..i];
        return Text.OneLine(core).TrimEnd('.');
    }

    [GeneratedRegex(@"could not be converted to (?<type>[^\s]+?)\.?(\s|$)", RegexOptions.CultureInvariant)]
    private static partial Regex ConvertRegex();

    [GeneratedRegex(@"missing required properties,? including:? (?<names>.+?)\.?(\s+Path:|$)", RegexOptions.CultureInvariant)]
    private static partial Regex MissingRequiredRegex();

    [GeneratedRegex(@"doesn't allow (setting|getting) null values", RegexOptions.CultureInvariant)]
    private static partial Regex NullNotAllowedRegex();

    [GeneratedRegex(@"^System\.Nullable`1\[\[?(?<inner>[^,\]]+)", RegexOptions.CultureInvariant)]
    private static partial Regex NullableRegex();
}
