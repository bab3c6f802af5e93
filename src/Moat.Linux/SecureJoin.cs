namespace Moat.Linux;

/// <summary>
/// Joins an untrusted path under a root, resolving symlinks as if root were "/": the result
/// never leaves root, whatever ".." or absolute symlinks the tree holds.
/// </summary>
public static class SecureJoin
{
    public static string Join(string root, string unsafePath)
    {
        root = Path.GetFullPath(root).TrimEnd('/');
        var pending = new Stack<string>(Split(unsafePath).Reverse());
        var resolved = new List<string>();
        var linksFollowed = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }
                continue;
            }
            var candidate = root + "/" + string.Join('/', resolved.Append(part));
            var info = new FileInfo(candidate);
            if (info.Exists || Directory.Exists(candidate))
            {
                var target = info.LinkTarget;
                if (target is not null)
                {
                    if (++linksFollowed > 255)
                    {
                        throw new IOException($"too many levels of symbolic links in {unsafePath}");
                    }
                    if (target.StartsWith('/'))
                    {
                        resolved.Clear();
                    }
                    foreach (var p in Split(target).Reverse())
                    {
                        pending.Push(p);
                    }
                    continue;
                }
            }
            resolved.Add(part);
        }
        return resolved.Count == 0 ? root : root + "/" + string.Join('/', resolved);
    }

    private static IEnumerable<string> Split(string path) =>
        path.Split('/', StringSplitOptions.RemoveEmptyEntries);
}
