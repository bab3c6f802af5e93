using System.Runtime.InteropServices;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// Path operations inside a directory tree that someone else may write while we work, such as a
/// sandbox's share, which a hostile guest can fill with symlinks: every lookup starts from a
/// directory fd and is resolved by the kernel with openat2 <c>RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS</c>, so no planted link, <c>..</c> or /proc magic
/// link leads out; what is created is created relative to an fd, <c>O_EXCL|O_NOFOLLOW</c>; what is
/// removed is unlinked without following links. A swap mid-way makes the operation fail, never
/// act elsewhere.
/// </summary>
public static unsafe class BeneathDir
{
    private const ulong Strict = Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS;

    /// <summary>Opens <paramref name="path"/> itself (a directory named by the host, not inside the tree) as the tree's root.</summary>
    public static SafeFd OpenRoot(string path) =>
        new(ErrnoException.Check(Libc.open(path, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0), "open", path));

    /// <summary>
    /// The entry at <paramref name="relative"/> under <paramref name="root"/> as an O_PATH fd, or
    /// null when it does not exist. <paramref name="sameMount"/>: refuse to cross into another
    /// mount on the way (and at the end).
    /// </summary>
    public static SafeFd? TryOpen(SafeFd root, string relative, bool directory, bool sameMount)
    {
        var how = new Libc.open_how
        {
            flags = (ulong)(Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC | (directory ? Libc.O_DIRECTORY : 0)),
            resolve = Strict | (sameMount ? Libc.RESOLVE_NO_XDEV : 0),
        };
        var fd = Libc.openat2(root.Fd, relative, &how);
        if (fd >= 0)
        {
            return new SafeFd(fd);
        }
        var errno = Marshal.GetLastPInvokeError();
        return errno == Libc.ENOENT ? null : throw new ErrnoException("openat2", errno, relative);
    }

    /// <summary>
    /// The directory (or, <paramref name="directory"/> false, the regular file) at
    /// <paramref name="relative"/> under <paramref name="root"/>, creating it and the directories
    /// leading to it, all on <paramref name="root"/>'s own mount. An existing entry of the other
    /// kind, or a symlink anywhere on the way, is an error.
    /// </summary>
    public static SafeFd OpenOrCreate(SafeFd root, string relative, bool directory)
    {
        var parts = relative.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts.Any(p => p is "." or ".."))
        {
            throw new ErrnoException("openat2", Libc.EINVAL, relative);
        }
        var parent = new SafeFd(ErrnoException.Check(Libc.dup(root.Fd), "dup", relative));
        try
        {
            for (var i = 0; i < parts.Length; i++)
            {
                var last = i == parts.Length - 1;
                var wantDirectory = !last || directory;
                var next = TryOpen(parent, parts[i], wantDirectory, sameMount: true);
                if (next is null)
                {
                    Create(parent, parts[i], wantDirectory);
                    next = TryOpen(parent, parts[i], wantDirectory, sameMount: true)
                        ?? throw new ErrnoException("openat2", Libc.ENOENT, relative);
                }
                parent.Dispose();
                parent = next;
            }
            var result = parent;
            parent = null!;
            return result;
        }
        finally
        {
            parent?.Dispose();
        }
    }

    private static void Create(SafeFd parent, string name, bool directory)
    {
        if (directory)
        {
            if (Libc.mkdirat(parent.Fd, name, 0x1ed /* 0755 */) < 0 && Marshal.GetLastPInvokeError() != Libc.EEXIST)
            {
                throw new ErrnoException("mkdirat", Marshal.GetLastPInvokeError(), name);
            }
            return;
        }
        var fd = Libc.openat(parent.Fd, name, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x1a4 /* 0644 */);
        if (fd >= 0)
        {
            Libc.close(fd);
        }
        else if (Marshal.GetLastPInvokeError() != Libc.EEXIST)
        {
            throw new ErrnoException("openat", Marshal.GetLastPInvokeError(), name);
        }
    }

    /// <summary>
    /// Removes <paramref name="name"/> (in the directory <paramref name="parent"/>) and everything
    /// under it, on one mount, following no link: links are removed as links, and a directory
    /// that turns into a link under our feet stops the removal with an error.
    /// </summary>
    public static void RemoveTree(SafeFd parent, string name)
    {
        if (Libc.unlinkat(parent.Fd, name, 0) == 0)
        {
            return;
        }
        var errno = Marshal.GetLastPInvokeError();
        if (errno == Libc.ENOENT)
        {
            return;
        }
        if (errno != Libc.EISDIR)
        {
            throw new ErrnoException("unlinkat", errno, name);
        }
        using (var dir = TryOpen(parent, name, directory: true, sameMount: true))
        {
            if (dir is null)
            {
                return;
            }
            // Listing through the fd's /proc link reads the directory the fd holds, wherever its name now points.
            foreach (var entry in Directory.EnumerateFileSystemEntries($"/proc/thread-self/fd/{dir.Fd}").Select(Path.GetFileName).ToList())
            {
                RemoveTree(dir, entry!);
            }
        }
        if (Libc.unlinkat(parent.Fd, name, Libc.AT_REMOVEDIR) < 0 && Marshal.GetLastPInvokeError() != Libc.ENOENT)
        {
            throw new ErrnoException("unlinkat", Marshal.GetLastPInvokeError(), name);
        }
    }
}
