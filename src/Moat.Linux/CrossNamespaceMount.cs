using System.Runtime.InteropServices;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// Bind mounts into a sandbox's share, which lives in the VMM's private mount namespace and which
/// the guest can write (so it can plant links there): the source tree is cloned as a detached
/// mount here (<c>open_tree</c>), made nosuid and nodev (and read-only, all the way down, when
/// asked) with <c>mount_setattr(AT_RECURSIVE)</c>, then attached on a target resolved under the
/// share root by <see cref="BeneathDir"/>, never through a link. From a multi-threaded process a
/// dedicated thread leaves the shared fs context (<c>unshare(CLONE_FS)</c>), joins the target
/// namespace (<c>setns</c>) and attaches it (<c>move_mount</c>); the thread ends there, so no
/// other code ever runs in that namespace.
/// </summary>
public static unsafe class CrossNamespaceMount
{
    /// <summary>
    /// Binds <paramref name="source"/> (recursively) at <paramref name="relativeTarget"/> under
    /// <paramref name="shareRoot"/> in the mount namespace of <paramref name="pid"/>.
    /// </summary>
    public static void Bind(int pid, string source, string shareRoot, string relativeTarget, bool readOnly)
    {
        var isDirectory = Directory.Exists(source);
        using var tree = CloneTree(source, readOnly);
        InNamespaceOf(pid, () => Attach(tree, shareRoot, relativeTarget, isDirectory));
    }

    /// <summary>
    /// A detached recursive clone of <paramref name="source"/>, nosuid and nodev (nothing in a
    /// share is executed or opened as a device by the VMM), read-only at every level when
    /// <paramref name="readOnly"/> (MS_REMOUNT|MS_RDONLY would only cover the top mount).
    /// </summary>
    public static SafeFd CloneTree(string source, bool readOnly)
    {
        var fd = Libc.syscall(Libc.SYS_open_tree, Libc.AT_FDCWD, (nint)Utf8(source, out var path),
            Libc.OPEN_TREE_CLONE | Libc.OPEN_TREE_CLOEXEC | Libc.AT_RECURSIVE, 0, 0);
        Marshal.FreeCoTaskMem(path);
        var tree = new SafeFd((int)ErrnoException.Check(fd, "open_tree", source));
        try
        {
            var attr = new Libc.mount_attr
            {
                attr_set = Libc.MOUNT_ATTR_NOSUID | Libc.MOUNT_ATTR_NODEV | (readOnly ? Libc.MOUNT_ATTR_RDONLY : 0),
            };
            var empty = Utf8("", out var emptyPath);
            var r = Libc.syscall(Libc.SYS_mount_setattr, tree.Fd, (nint)empty, Libc.AT_EMPTY_PATH | Libc.AT_RECURSIVE, (nint)(&attr), sizeof(Libc.mount_attr));
            Marshal.FreeCoTaskMem(emptyPath);
            ErrnoException.Check(r, readOnly ? "mount_setattr read-only" : "mount_setattr", source);
            return tree;
        }
        catch
        {
            tree.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Attaches <paramref name="tree"/> at <paramref name="relativeTarget"/> under <paramref name="shareRoot"/>
    /// (created, directory or empty file, on the share's own mount; no link followed), in the
    /// calling thread's mount namespace.
    /// </summary>
    public static void Attach(SafeFd tree, string shareRoot, string relativeTarget, bool isDirectory)
    {
        using var root = BeneathDir.OpenRoot(shareRoot);
        using var target = BeneathDir.OpenOrCreate(root, relativeTarget, isDirectory);
        var empty = Utf8("", out var emptyPath);
        var r = Libc.syscall(Libc.SYS_move_mount, tree.Fd, (nint)empty, target.Fd, (nint)empty,
            Libc.MOVE_MOUNT_F_EMPTY_PATH | Libc.MOVE_MOUNT_T_EMPTY_PATH);
        Marshal.FreeCoTaskMem(emptyPath);
        ErrnoException.Check(r, "move_mount", Path.Combine(shareRoot, relativeTarget));
    }

    /// <summary>
    /// Detaches every mount at or under <paramref name="relativeDirectory"/> of <paramref name="shareRoot"/>
    /// in the namespace of <paramref name="pid"/>, then removes that directory; each mount is
    /// reached through an fd resolved beneath the share root, so a link planted in its place
    /// makes the unmount fail instead of detaching something else.
    /// </summary>
    public static void UnmountTree(int pid, string shareRoot, string relativeDirectory)
    {
        InNamespaceOf(pid, () =>
        {
            var root = shareRoot.TrimEnd('/') + "/";
            var directory = root + relativeDirectory.Trim('/');
            var mounts = File.ReadLines("/proc/thread-self/mountinfo").Select(l => l.Split(' '))
                .Select(f => (Id: f[0], Parent: f[1], Point: Unescape(f[4]))).ToList();
            // Only the binds attached on the share's own mount: detaching one takes what is under it.
            var share = mounts.LastOrDefault(m => m.Point == shareRoot.TrimEnd('/')).Id;
            var targets = mounts
                .Where(m => m.Parent == share && (m.Point == directory || m.Point.StartsWith(directory + "/", StringComparison.Ordinal)))
                .Select(m => m.Point)
                .Distinct()
                .OrderByDescending(m => m.Length)
                .ToList();
            using var rootFd = BeneathDir.OpenRoot(shareRoot);
            foreach (var t in targets)
            {
                using var mount = BeneathDir.TryOpen(rootFd, t[root.Length..], directory: false, sameMount: false);
                if (mount is null)
                {
                    continue;
                }
                if (Libc.umount2($"/proc/thread-self/fd/{mount.Fd}", Libc.MNT_DETACH) < 0 && Marshal.GetLastPInvokeError() is not (Libc.EINVAL or Libc.ENOENT))
                {
                    throw new ErrnoException("umount", Marshal.GetLastPInvokeError(), t);
                }
            }
            var parts = relativeDirectory.Trim('/').Split('/');
            using var parent = parts.Length == 1 ? null : BeneathDir.TryOpen(rootFd, string.Join('/', parts[..^1]), directory: true, sameMount: true);
            if (parts.Length == 1 || parent is not null)
            {
                BeneathDir.RemoveTree(parent ?? rootFd, parts[^1]);
            }
        });
    }

    /// <summary>Runs <paramref name="action"/> in the mount namespace of <paramref name="pid"/>; every failure is an IOException.</summary>
    private static void InNamespaceOf(int pid, Action action)
    {
        try
        {
            FreshThread.Run(() =>
            {
                ErrnoException.Check(Libc.unshare(Libc.CLONE_FS), "unshare(CLONE_FS)");
                FreshThread.Enter($"/proc/{pid}/ns/mnt", Libc.CLONE_NEWNS);
                action();
            });
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new IOException(e.Message, e);
        }
    }

    private static byte* Utf8(string s, out nint allocation)
    {
        allocation = Marshal.StringToCoTaskMemUTF8(s);
        return (byte*)allocation;
    }

    private static string Unescape(string mountinfoPath) =>
        mountinfoPath.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
