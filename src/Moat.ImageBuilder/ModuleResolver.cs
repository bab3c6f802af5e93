namespace Moat.ImageBuilder;

/// <summary>Turns module names into .ko paths in load order, using a modules.dep file.</summary>
internal static class ModuleResolver
{
    /// <summary>
    /// Resolves <paramref name="moduleNames"/> (and everything they depend on) to paths relative to
    /// /lib/modules/&lt;kver&gt;/, ordered so every module comes after all of its dependencies.
    /// </summary>
    public static IReadOnlyList<string> Resolve(string modulesDepText, IEnumerable<string> moduleNames, string kernelVersion = "this kernel")
    {
        ArgumentNullException.ThrowIfNull(modulesDepText);
        ArgumentNullException.ThrowIfNull(moduleNames);

        var deps = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var rawLine in modulesDepText.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var path = line[..colon].Trim();
            deps[path] = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            byName.TryAdd(NameOf(path), path);
        }

        var order = new List<string>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        var visiting = new HashSet<string>(StringComparer.Ordinal);

        void Visit(string path)
        {
            if (done.Contains(path))
            {
                return;
            }

            if (!visiting.Add(path))
            {
                throw new GuestImageException($"kernel module dependency cycle at '{path}' in modules.dep of {kernelVersion}");
            }

            if (deps.TryGetValue(path, out var pathDeps))
            {
                // modprobe loads the last listed dependency first; recursing keeps the order correct either way.
                for (var i = pathDeps.Length - 1; i >= 0; i--)
                {
                    Visit(pathDeps[i]);
                }
            }

            visiting.Remove(path);
            done.Add(path);
            order.Add(path);
        }

        foreach (var name in moduleNames)
        {
            if (!byName.TryGetValue(Normalize(name), out var path))
            {
                throw new GuestImageException($"kernel module '{name}' not found in modules.dep of {kernelVersion}");
            }

            Visit(path);
        }

        return order;
    }

    /// <summary>Module name of a path: "kernel/net/9p/9pnet-virtio.ko" -> "9pnet_virtio".</summary>
    internal static string NameOf(string path)
    {
        var file = path[(path.LastIndexOf('/') + 1)..];
        var dot = file.IndexOf(".ko", StringComparison.Ordinal);
        return Normalize(dot >= 0 ? file[..dot] : file);
    }

    private static string Normalize(string name) => name.Trim().Replace('-', '_');
}
