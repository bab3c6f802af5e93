using Moat.Linux;

namespace Moat.Node.Deploy;

/// <summary>
/// The node's root filesystem as the installer sees it (mounted at <c>/host</c> in its pod).
/// Every path is resolved inside it (openat2 RESOLVE_IN_ROOT): the host's absolute symlinks
/// (/usr/local/bin -> /opt/..., /etc/containerd -> ...) lead where they lead on the host, never
/// out into the installer's own filesystem. Paths handed out are /proc/self/fd/N/NAME, valid
/// while this object lives.
/// </summary>
public sealed class HostRoot : IDisposable
{
    private readonly SafeFd _root;
    private readonly List<SafeFd> _open = [];

    public HostRoot(string path)
    {
        if (!Directory.Exists(path))
        {
            throw new Moat.Runtime.RuntimeException(Moat.Runtime.RuntimeErrorKind.InvalidArgument,
                $"host root {path} is not a directory: mount the node's / there (hostPath) or pass --host-root");
        }
        Path = path;
        _root = InRoot.OpenRoot(path);
    }

    /// <summary>Where the host's / is mounted here.</summary>
    public string Path { get; }

    /// <summary>The host directory <paramref name="hostDir"/>, created (0755) if missing.</summary>
    public string Dir(string hostDir)
    {
        var fd = InRoot.OpenOrCreate(_root, hostDir, directory: true);
        _open.Add(fd);
        return InRoot.ProcPath(fd);
    }

    /// <summary>
    /// The host file <paramref name="hostPath"/>: its directory created if missing, the file itself
    /// not. A symlink there is refused: reading or replacing it through this path would follow it
    /// out of the node's root (or replace the node's link).
    /// </summary>
    public string File(string hostPath)
    {
        var path = System.IO.Path.Combine(Dir(System.IO.Path.GetDirectoryName(hostPath)!), System.IO.Path.GetFileName(hostPath));
        if (new FileInfo(path).LinkTarget is { } target)
        {
            throw new Moat.Runtime.RuntimeException(Moat.Runtime.RuntimeErrorKind.FailedPrecondition,
                $"{hostPath} on the node is a symlink (to {target}): the installer edits only a regular file there; replace the link with the file it points to");
        }
        return path;
    }

    /// <summary>The host directory <paramref name="hostDir"/> if it exists (symlinks followed inside the root), else null.</summary>
    public string? Existing(string hostDir)
    {
        if (InRoot.TryOpen(_root, hostDir) is not { } fd)
        {
            return null;
        }
        _open.Add(fd);
        return InRoot.ProcPath(fd);
    }

    public void Dispose()
    {
        foreach (var fd in _open)
        {
            fd.Dispose();
        }
        _root.Dispose();
    }
}
