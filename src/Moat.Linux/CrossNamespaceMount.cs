using System.Runtime.InteropServices;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// Bind mounts into another process's mount namespace (the VMM's private one) from a
/// multi-threaded process: the source tree is cloned as a detached mount here
/// (<c>open_tree</c>), then a dedicated thread leaves the shared fs context
/// (<c>unshare(CLONE_FS)</c>), joins the target namespace (<c>setns</c>) and attaches it
/// (<c>move_mount</c>). The thread ends there, so no other code ever runs in that namespace.
/// </summary>
public static unsafe class CrossNamespaceMount
{
    private const long SYS_open_tree = 428, SYS_move_mount = 429, SYS_mount_setattr = 442;
    private const int OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = 0x80000, AT_RECURSIVE = 0x8000, AT_EMPTY_PATH = 0x1000;
    private const int MOVE_MOUNT_F_EMPTY_PATH = 4, AT_FDCWD = -100;
    private const ulong MOUNT_ATTR_RDONLY = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct MountAttr
    {
        public ulong AttrSet;
        public ulong AttrClr;
        public ulong Propagation;
        public ulong UsernsFd;
    }

    /// <summary>Binds <paramref name="source"/> (recursively) at <paramref name="target"/> in the mount namespace of <paramref name="pid"/>.</summary>
    public static void Bind(int pid, string source, string target, bool readOnly)
    {
        var isDirectory = Directory.Exists(source);
        using var tree = OpenTree(source);
        if (readOnly)
        {
            var attr = new MountAttr { AttrSet = MOUNT_ATTR_RDONLY };
            using var empty = new NativeUtf8("");
            ErrnoException.Check(Libc.syscall(SYS_mount_setattr, (nint)tree.Fd, (nint)empty.Pointer,
                AT_EMPTY_PATH | AT_RECURSIVE, (nint)(&attr), sizeof(MountAttr)), "mount_setattr read-only", source);
        }
        InNamespaceOf(pid, () =>
        {
            if (isDirectory)
            {
                Directory.CreateDirectory(target);
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.WriteAllBytes(target, []);
            }
            using var empty = new NativeUtf8("");
            using var to = new NativeUtf8(target);
            ErrnoException.Check(Libc.syscall(SYS_move_mount, (nint)tree.Fd, (nint)empty.Pointer,
                AT_FDCWD, (nint)to.Pointer, MOVE_MOUNT_F_EMPTY_PATH), "move_mount", target);
        });
    }

    /// <summary>Detaches every mount at or under <paramref name="directory"/> in the namespace of <paramref name="pid"/>, then removes the directory.</summary>
    public static void UnmountTree(int pid, string directory)
    {
        InNamespaceOf(pid, () =>
        {
            var prefix = directory.TrimEnd('/') + "/";
            var targets = File.ReadLines("/proc/thread-self/mountinfo")
                .Select(l => Unescape(l.Split(' ')[4]))
                .Where(m => m == directory || m.StartsWith(prefix, StringComparison.Ordinal))
                .OrderByDescending(m => m.Length)
                .ToList();
            foreach (var t in targets)
            {
                if (Libc.umount2(t, Libc.MNT_DETACH) < 0 && Marshal.GetLastPInvokeError() is not (22 or 2) /* EINVAL, ENOENT */)
                {
                    throw new ErrnoException("umount", Marshal.GetLastPInvokeError(), t);
                }
            }
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        });
    }

    private static SafeFd OpenTree(string source)
    {
        using var path = new NativeUtf8(source);
        var fd = Libc.syscall(SYS_open_tree, AT_FDCWD, (nint)path.Pointer, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE, 0, 0);
        return new SafeFd((int)ErrnoException.Check(fd, "open_tree", source));
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

    private static string Unescape(string mountinfoPath) =>
        mountinfoPath.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);

    /// <summary>A NUL-terminated UTF-8 copy of a string in unmanaged memory.</summary>
    private sealed class NativeUtf8 : IDisposable
    {
        public NativeUtf8(string s) => Pointer = (byte*)Marshal.StringToCoTaskMemUTF8(s);

        public byte* Pointer { get; private set; }

        public void Dispose()
        {
            Marshal.FreeCoTaskMem((nint)Pointer);
            Pointer = null;
        }
    }
}
