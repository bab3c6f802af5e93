namespace Moat.Linux;

/// <summary>
/// A kernel's module index, read from the text files depmod writes (modules.dep, modules.alias,
/// modules.builtin): which .ko a name or an alias the kernel asks for (request_module's
/// "net-pf-7", "fs-xfs", "netdev-br0") stands for, and the order to load it and its dependencies.
/// </summary>
public sealed class KernelModuleIndex
{
    private readonly Dictionary<string, string[]> _deps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _byName = new(StringComparer.Ordinal);
    private readonly List<(string Pattern, string Module)> _aliases = [];
    private readonly HashSet<string> _builtin = new(StringComparer.Ordinal);

    /// <param name="modulesDep">modules.dep: "path.ko: dep.ko dep.ko" per line, paths relative to /lib/modules/RELEASE.</param>
    /// <param name="modulesAlias">modules.alias: "alias PATTERN MODULE" per line (shell wildcards).</param>
    /// <param name="modulesBuiltin">modules.builtin: the paths of what is built into the kernel.</param>
    public static KernelModuleIndex Parse(string modulesDep, string? modulesAlias = null, string? modulesBuiltin = null)
    {
        var index = new KernelModuleIndex();
        foreach (var rawLine in modulesDep.Split('\n'))
        {
            var line = rawLine.Trim();
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (line.Length == 0 || line[0] == '#' || colon <= 0)
            {
                continue;
            }
            var path = line[..colon].Trim();
            index._deps[path] = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            index._byName.TryAdd(NameOf(path), path);
        }
        foreach (var line in (modulesAlias ?? "").Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts is ["alias", var pattern, var module])
            {
                index._aliases.Add((pattern, Normalize(module)));
            }
        }
        foreach (var line in (modulesBuiltin ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            index._builtin.Add(NameOf(line));
        }
        return index;
    }

    /// <summary>Whether <paramref name="name"/> is built into the kernel (nothing to load).</summary>
    public bool IsBuiltin(string name) => _builtin.Contains(Normalize(name));

    /// <summary>
    /// The module names <paramref name="nameOrAlias"/> stands for: itself when it is a module or
    /// built in, else every module an alias pattern of it names (as modprobe: the first that loads wins).
    /// </summary>
    public IReadOnlyList<string> Lookup(string nameOrAlias)
    {
        var name = Normalize(nameOrAlias);
        if (_byName.ContainsKey(name) || _builtin.Contains(name))
        {
            return [name];
        }
        return _aliases.Where(a => Glob.IsMatch(nameOrAlias, a.Pattern)).Select(a => a.Module).Distinct().ToList();
    }

    /// <summary>
    /// The .ko paths of <paramref name="names"/> and everything they depend on, each after all of
    /// its dependencies. Throws <see cref="KeyNotFoundException"/> for a name that is no module and
    /// <see cref="InvalidDataException"/> for a dependency cycle.
    /// </summary>
    public IReadOnlyList<string> LoadOrder(IEnumerable<string> names)
    {
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
                throw new InvalidDataException($"kernel module dependency cycle at '{path}'");
            }
            if (_deps.TryGetValue(path, out var pathDeps))
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
        foreach (var name in names)
        {
            Visit(_byName.TryGetValue(Normalize(name), out var path) ? path : throw new KeyNotFoundException($"kernel module '{name}' is not in modules.dep"));
        }
        return order;
    }

    /// <summary>Module name of a path: "kernel/net/9p/9pnet-virtio.ko" -> "9pnet_virtio".</summary>
    public static string NameOf(string path)
    {
        var file = path[(path.LastIndexOf('/') + 1)..];
        var dot = file.IndexOf(".ko", StringComparison.Ordinal);
        return Normalize(dot >= 0 ? file[..dot] : file);
    }

    private static string Normalize(string name) => name.Trim().Replace('-', '_');

    /// <summary>
    /// fnmatch(3) without flags: '*', '?' and bracket classes ('[abc]', '[a-z]', '[!x]'), in time
    /// linear in text times pattern (one backtrack point: the last '*').
    /// </summary>
    public static class Glob
    {
        public static bool IsMatch(string text, string pattern)
        {
            int t = 0, p = 0, starP = -1, starT = 0;
            while (t < text.Length)
            {
                if (p < pattern.Length && pattern[p] == '*')
                {
                    starP = p++;
                    starT = t;
                    continue;
                }
                if (p < pattern.Length && MatchOne(text[t], pattern, p, out var width))
                {
                    t++;
                    p += width;
                    continue;
                }
                if (starP < 0)
                {
                    return false;
                }
                p = starP + 1; // let the last '*' take one more character
                t = ++starT;
            }
            while (p < pattern.Length && pattern[p] == '*')
            {
                p++;
            }
            return p == pattern.Length;
        }

        /// <summary>Whether <paramref name="c"/> matches the pattern element at <paramref name="p"/> ('?', a class or a literal), and its width.</summary>
        private static bool MatchOne(char c, string pattern, int p, out int width)
        {
            width = 1;
            if (pattern[p] == '?')
            {
                return true;
            }
            if (pattern[p] != '[')
            {
                return pattern[p] == c;
            }
            var close = pattern.IndexOf(']', p + 1);
            if (close < 0)
            {
                return false; // an unclosed class matches nothing
            }
            var set = pattern.AsSpan(p + 1, close - p - 1);
            width = close - p + 1;
            var negate = set.Length > 0 && set[0] is '!' or '^';
            if (negate)
            {
                set = set[1..];
            }
            var hit = false;
            for (var i = 0; i < set.Length; i++)
            {
                if (i + 2 < set.Length && set[i + 1] == '-')
                {
                    hit |= c >= set[i] && c <= set[i + 2];
                    i += 2;
                }
                else
                {
                    hit |= c == set[i];
                }
            }
            return hit != negate;
        }
    }
}
