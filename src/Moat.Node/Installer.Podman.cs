using System.Text.RegularExpressions;
using Moat.Runtime;
using Tomlyn.Model;

namespace Moat.Node;

public static partial class Installer
{
    /// <summary>
    /// What containers-common lists by default for the two runtime lists Moat joins: a key set in
    /// containers.conf replaces the default list, so the defaults go with Moat's name.
    /// </summary>
    private static readonly (string Key, string[] Defaults, string Why)[] PodmanRuntimeLists =
    [
        ("runtime_supports_json", ["crun", "runc", "kata", "runsc", "krun"], "its errors are read from --log-format json"),
        ("runtime_supports_kvm", ["kata", "krun"], "its containers run in a VM (SELinux gives them the KVM label)"),
    ];

    /// <summary>
    /// Adds <c>[engine.runtimes] NAME = ["MOAT"]</c> to Podman's containers.conf and puts NAME in
    /// <c>runtime_supports_json</c> and <c>runtime_supports_kvm</c>. The file's other lines and
    /// comments are kept; a second run changes nothing.
    /// </summary>
    public static (string Text, IReadOnlyList<string> Changes) EditPodmanConfig(string? existing, string configPath, string name, string moatPath)
    {
        var text = existing ?? "";
        var model = Parse(text, configPath);
        var engine = Lookup(model, "engine") as TomlTable;
        var changes = new List<string>();
        var lines = text.Length == 0 ? new List<string>() : text.TrimEnd('\n').Split('\n').ToList();
        var engineHeader = lines.FindIndex(l => EngineHeader().IsMatch(l));
        var runtimes = engine is null ? null : Lookup(engine, "runtimes") as TomlTable;
        var current = runtimes is not null && runtimes.ContainsKey(name) ? Strings(runtimes, name) : null;
        if (current is not null && !current.SequenceEqual([moatPath]))
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"{configPath}: Podman runtime '{name}' already runs {string.Join(", ", current)}: remove it from [engine.runtimes] or choose another --name");
        }
        // Keys of an engine table written without its own [engine] header (dotted or inline) cannot
        // be joined by one: an [engine] header only fits a table made implicitly by [engine.runtimes].
        if (engine is not null && engineHeader < 0 && engine.Any(kv => kv.Value is not TomlTable)
            && PodmanRuntimeLists.Any(r => !Strings(engine, r.Key).Contains(name)))
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"{configPath}: the engine table is not written as an [engine] section: add {name} to its runtime lists by hand");
        }
        var engineAdds = new List<string>();
        foreach (var (key, defaults, why) in PodmanRuntimeLists)
        {
            var present = engine is not null && engine.ContainsKey(key);
            var values = present ? Strings(engine!, key) : defaults;
            if (values.Contains(name))
            {
                continue;
            }
            var line = $"{key} = [{string.Join(", ", values.Append(name).Select(v => $"\"{v}\""))}]";
            if (present)
            {
                var at = FindKeyLine(lines, engineHeader, key);
                if (at < 0)
                {
                    throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                        $"{configPath}: [engine] {key} spans several lines: add \"{name}\" to it by hand");
                }
                lines[at] = line;
            }
            else
            {
                engineAdds.Add(line);
            }
            changes.Add($"added '{name}' to {key} ({why})");
        }
        string? runtimeLine = null;
        if (current is null)
        {
            runtimeLine = $"{name} = [\"{moatPath}\"]";
            changes.Add($"added Podman runtime '{name}' ({moatPath}): podman run --runtime {name} ...");
        }
        if (changes.Count == 0)
        {
            return (text, changes);
        }
        if (engineAdds.Count > 0)
        {
            if (engineHeader >= 0)
            {
                lines.InsertRange(engineHeader + 1, engineAdds);
            }
            else
            {
                lines.AddRange(["", "[engine]", .. engineAdds]);
            }
        }
        if (runtimeLine is not null)
        {
            var runtimesHeader = lines.FindIndex(l => RuntimesHeader().IsMatch(l));
            if (runtimesHeader >= 0)
            {
                lines.Insert(runtimesHeader + 1, runtimeLine);
            }
            else if (runtimes is not null)
            {
                throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                    $"{configPath}: engine.runtimes is not written as an [engine.runtimes] section: add {runtimeLine} to it by hand");
            }
            else
            {
                lines.AddRange(["", "[engine.runtimes]", runtimeLine]);
            }
        }
        var edited = string.Join('\n', lines).TrimStart('\n') + "\n";
        // The result must still be valid TOML and say what was meant.
        var after = Parse(edited, configPath);
        if (Lookup(after, "engine", "runtimes") is not TomlTable r || !Strings(r, name).SequenceEqual([moatPath])
            || PodmanRuntimeLists.Any(l => !Strings((TomlTable)Lookup(after, "engine")!, l.Key).Contains(name)))
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"{configPath}: could not add the '{name}' runtime without changing the file's meaning: add it by hand");
        }
        return (edited, changes);
    }

    private static string[] Strings(TomlTable table, string key) =>
        table.TryGetValue(key, out var v) && v is TomlArray a ? a.OfType<string>().ToArray() : [];

    /// <summary>The line of a one-line <c>key = [...]</c> in the [engine] section that starts at <paramref name="header"/>.</summary>
    private static int FindKeyLine(List<string> lines, int header, string key)
    {
        var keyLine = new Regex($@"^\s*{Regex.Escape(key)}\s*=\s*\[[^\]]*\]\s*(#.*)?$");
        for (var i = header + 1; i < lines.Count && !lines[i].TrimStart().StartsWith('['); i++)
        {
            if (keyLine.IsMatch(lines[i]))
            {
                return i;
            }
        }
        return -1;
    }

    [GeneratedRegex(@"^\s*\[\s*engine\s*\]\s*(#.*)?$")]
    private static partial Regex EngineHeader();

    [GeneratedRegex(@"^\s*\[\s*engine\s*\.\s*runtimes\s*\]\s*(#.*)?$")]
    private static partial Regex RuntimesHeader();
}
