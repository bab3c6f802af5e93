using System.Globalization;
using System.Text.Json.Nodes;

namespace Moat.Oci.Tests;

/// <summary>Builds config.json variants from a small runnable base config.</summary>
internal static class TestConfig
{
    public const string BaseJson = """
        {
          "ociVersion": "1.1.0",
          "root": { "path": "rootfs" },
          "process": {
            "cwd": "/",
            "args": ["sh"],
            "env": ["PATH=/usr/bin:/bin"],
            "user": { "uid": 0, "gid": 0 }
          },
          "linux": {
            "namespaces": [
              { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }
            ]
          }
        }
        """;

    /// <summary>Base config with <paramref name="path"/> (dotted; numeric segments index arrays) set to raw JSON.</summary>
    public static string With(params (string Path, string RawJson)[] edits)
    {
        var root = JsonNode.Parse(BaseJson)!.AsObject();
        foreach (var (path, raw) in edits)
        {
            Set(root, path, raw);
        }

        return root.ToJsonString();
    }

    public static Spec Spec(params (string Path, string RawJson)[] edits) => SpecLoader.Deserialize(With(edits));

    public static ValidationResult Validate(params (string Path, string RawJson)[] edits) => SpecValidator.Validate(Spec(edits));

    private static void Set(JsonObject root, string path, string raw)
    {
        var parts = path.Split('.');
        JsonNode current = root;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            current = Child(current, parts[i]) ?? Create(current, parts[i]);
        }

        var last = parts[^1];
        if (raw == "<delete>")
        {
            current.AsObject().Remove(last);
        }
        else if (current is JsonArray array)
        {
            var index = int.Parse(last, CultureInfo.InvariantCulture);
            if (index == array.Count)
            {
                array.Add(JsonNode.Parse(raw));
            }
            else
            {
                array[index] = JsonNode.Parse(raw);
            }
        }
        else
        {
            current[last] = JsonNode.Parse(raw);
        }
    }

    private static JsonNode? Child(JsonNode node, string part)
        => node is JsonArray a ? a[int.Parse(part, CultureInfo.InvariantCulture)] : node.AsObject()[part];

    private static JsonNode Create(JsonNode node, string part)
    {
        var created = new JsonObject();
        node.AsObject()[part] = created;
        return created;
    }
}
