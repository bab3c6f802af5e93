using System.Text.Json.Nodes;
using System.Text;
using Moat.Runtime;
using Tomlyn.Model;
using Tomlyn.Serialization;
using Tomlyn;

namespace Moat.Node;

/// <summary>
/// The configuration edits of <c>moat install</c>, as pure text-to-text functions: an edit that
/// is already in place changes nothing, so a second run leaves the file byte for byte the same.
/// containerd's config.toml is edited by appending tables (its comments and layout are kept);
/// Docker's daemon.json by setting one key.
/// </summary>
public static partial class Installer
{
    private const string CriContainerd = "plugins.\"io.containerd.grpc.v1.cri\".containerd";

    /// <summary>The runtime type containerd derives the shim binary from: handler "kata" runs containerd-shim-kata-v2.</summary>
    public static string RuntimeType(string handler) => $"io.containerd.{handler}.v2";

    /// <summary>Adds a CRI runtime per handler (and optionally the untrusted-workload runtime) to a version 2 config.toml.</summary>
    public static (string Text, IReadOnlyList<string> Changes) EditContainerdConfig(string? existing, string configPath,
        IReadOnlyList<string> handlers, bool untrustedWorkload, string moatConfigPath)
    {
        var text = string.IsNullOrWhiteSpace(existing) ? "version = 2\n" : existing;
        var model = Parse(text, configPath);
        if (!model.TryGetValue("version", out var version) || Convert.ToInt64(version, System.Globalization.CultureInfo.InvariantCulture) != 2)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument,
                $"{configPath} is not a version 2 containerd configuration: add 'version = 2' (containerd 1.3 and later) or run 'containerd config default > {configPath}' first");
        }
        var changes = new List<string>();
        var append = new StringBuilder();
        foreach (var handler in handlers)
        {
            var existingType = Lookup(model, "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", handler, "runtime_type") as string;
            if (existingType == RuntimeType(handler))
            {
                continue;
            }
            if (existingType is not null)
            {
                throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                    $"{configPath}: CRI runtime '{handler}' already runs {existingType}: remove that table or choose another handler name");
            }
            append.Append(System.Globalization.CultureInfo.InvariantCulture, $"""

                [{CriContainerd}.runtimes.{handler}]
                  runtime_type = "{RuntimeType(handler)}"
                  [{CriContainerd}.runtimes.{handler}.options]
                    ConfigPath = "{moatConfigPath}"

                """);
            changes.Add($"added CRI runtime handler '{handler}' ({RuntimeType(handler)})");
        }
        if (untrustedWorkload)
        {
            var existingType = Lookup(model, "plugins", "io.containerd.grpc.v1.cri", "containerd", "untrusted_workload_runtime", "runtime_type") as string;
            if (existingType is null)
            {
                append.Append(System.Globalization.CultureInfo.InvariantCulture, $"""

                    [{CriContainerd}.untrusted_workload_runtime]
                      runtime_type = "{RuntimeType(handlers[0])}"

                    """);
                changes.Add($"set the untrusted-workload runtime to {RuntimeType(handlers[0])}");
            }
            else if (existingType != RuntimeType(handlers[0]))
            {
                throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                    $"{configPath}: the untrusted-workload runtime is already {existingType}: remove it first to make it Moat");
            }
        }
        if (changes.Count == 0)
        {
            return (text, changes);
        }
        var edited = text.TrimEnd('\n') + "\n" + append.ToString().TrimEnd('\n') + "\n";
        Parse(edited, configPath); // the result must still be valid TOML
        return (edited, changes);
    }

    /// <summary>
    /// Removes what <see cref="EditContainerdConfig"/> added for <paramref name="handlers"/>: each
    /// handler's table and its subtables (<c>.options</c>), with the blank line before them, so the
    /// file reads as it did before. A handler of another runtime type is left alone; a file
    /// without them is unchanged.
    /// </summary>
    public static (string Text, IReadOnlyList<string> Changes) RemoveContainerdHandlers(string existing, string configPath, IReadOnlyList<string> handlers)
    {
        var model = Parse(existing, configPath);
        var ours = handlers.Where(h => Lookup(model, "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", h, "runtime_type") as string == RuntimeType(h)).ToList();
        if (ours.Count == 0)
        {
            return (existing, []);
        }
        var kept = new List<string>();
        var skipping = false;
        foreach (var line in existing.Split('\n'))
        {
            var t = line.Trim();
            if (t.StartsWith('['))
            {
                skipping = ours.Any(h => t == $"[{CriContainerd}.runtimes.{h}]" || t.StartsWith($"[{CriContainerd}.runtimes.{h}.", StringComparison.Ordinal));
                if (skipping && kept.Count > 0 && kept[^1].Trim().Length == 0)
                {
                    kept.RemoveAt(kept.Count - 1);
                }
            }
            if (!skipping)
            {
                kept.Add(line);
            }
        }
        var edited = string.Join('\n', kept).TrimEnd('\n') + "\n";
        var after = Parse(edited, configPath);
        if (ours.FirstOrDefault(h => Lookup(after, "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", h) is not null) is { } left)
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"{configPath}: the CRI runtime '{left}' is not written as 'moat install' writes it: remove its table by hand");
        }
        return (edited, ours.Select(h => $"removed CRI runtime handler '{h}' ({RuntimeType(h)})").ToList());
    }

    /// <summary>Sets <c>runtimes.&lt;name&gt;.path</c> in Docker's daemon.json.</summary>
    public static (string Text, IReadOnlyList<string> Changes) EditDockerConfig(string? existing, string configPath, string name, string moatPath)
    {
        JsonObject root;
        try
        {
            root = string.IsNullOrWhiteSpace(existing) ? [] : JsonNode.Parse(existing) as JsonObject
                ?? throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{configPath}: the top level must be a JSON object");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{configPath} is not valid JSON: {e.Message}");
        }
        var runtimes = root["runtimes"] as JsonObject;
        if (runtimes?[name]?["path"]?.GetValue<string>() == moatPath)
        {
            return (existing!, []);
        }
        if (runtimes is null)
        {
            runtimes = [];
            root["runtimes"] = runtimes;
        }
        runtimes[name] = new JsonObject { ["path"] = moatPath };
        return (root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n",
            [$"added Docker runtime '{name}' ({moatPath}): docker run --runtime={name} ..."]);
    }

    private static TomlTable Parse(string text, string path)
    {
        try
        {
            return TomlSerializer.Deserialize(text, InstallerTomlContext.Default.TomlTable) ?? [];
        }
        catch (Exception e) when (e is TomlException or InvalidOperationException or FormatException)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{path} is not valid TOML: {e.Message.Split('\n')[0]}");
        }
    }

    private static object? Lookup(TomlTable table, params string[] keys)
    {
        object? current = table;
        foreach (var k in keys)
        {
            if (current is not TomlTable t || !t.TryGetValue(k, out current))
            {
                return null;
            }
        }
        return current;
    }
}

[TomlSerializable(typeof(TomlTable))]
internal sealed partial class InstallerTomlContext : TomlSerializerContext;
