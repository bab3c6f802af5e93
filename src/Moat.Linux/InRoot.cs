using System.Runtime.InteropServices;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// Untrusted paths inside a container's rootfs, resolved by the kernel as if the rootfs were "/"
/// (openat2 with RESOLVE_IN_ROOT): no symlink or ".." leads out, and each component is looked up
/// once, which matters when the rootfs is a 9p share where every lookup is a round trip to the host.
/// The results are O_PATH fds; <see cref="ProcPath"/> names one for mount(2).
/// </summary>
public static unsafe class InRoot
{
    /// <summary>Opens the rootfs itself (O_PATH directory) to resolve paths under.</summary>
    public static SafeFd OpenRoot(string rootfs) =>
        new(ErrnoException.Check(Libc.open(rootfs, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0), "open", rootfs));

    /// <summary>The existing <paramref name="path"/> under <paramref name="root"/>; null when a component does not exist.</summary>
    public static SafeFd? TryOpen(SafeFd root, string path)
    {
        var fd = Resolve(root, path);
        if (fd >= 0)
        {
            return new SafeFd(fd);
        }
        var errno = Marshal.GetLastPInvokeError();
        return errno == Libc.ENOENT ? null : throw new ErrnoException("openat2", errno, path);
    }

    /// <summary>
    /// <paramref name="path"/> under <paramref name="root"/>, creating what is missing: directories
    /// on the way, and at the end a directory or (<paramref name="directory"/> false) an empty file.
    /// A dangling symlink on the way is followed inside the root and its target created, as runc does
    /// (an image's /etc/resolv.conf may point into a /run that only exists on a booted system).
    /// </summary>
    public static SafeFd OpenOrCreate(SafeFd root, string path, bool directory)
    {
        for (var links = 0; ; links++)
        {
            if (TryOpen(root, path) is { } existing)
            {
                return existing;
            }
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var parent = new SafeFd(ErrnoException.Check(Libc.dup(root.Fd), "dup", path));
            string? redirected = null;
            try
            {
                for (var i = 0; i < parts.Length; i++)
                {
                    var prefix = string.Join('/', parts, 0, i + 1);
                    var next = TryOpen(root, prefix);
                    if (next is null)
                    {
                        if (ReadLink(parent, parts[i]) is { } target)
                        {
                            if (links >= 40)
                            {
                                throw new ErrnoException("resolve", 40 /* ELOOP */, path);
                            }
                            // Dangling: continue from where it points, still inside the root.
                            var from = target.StartsWith('/') ? target : string.Join('/', parts, 0, i) + "/" + target;
                            redirected = from + "/" + string.Join('/', parts, i + 1, parts.Length - i - 1);
                            break;
                        }
                        Create(parent, parts[i], directory || i < parts.Length - 1, prefix);
                        next = TryOpen(root, prefix) ?? throw new ErrnoException("openat2", Libc.ENOENT, prefix);
                    }
                    parent.Dispose();
                    parent = next;
                }
                if (redirected is null)
                {
                    var result = parent;
                    parent = null!;
                    return result;
                }
            }
            finally
            {
                parent?.Dispose();
            }
            path = redirected;
        }
    }

    private static string? ReadLink(SafeFd dir, string name)
    {
        var buffer = new byte[4096];
        fixed (byte* b = buffer)
        {
            var n = Libc.readlinkat(dir.Fd, name, b, buffer.Length);
            return n < 0 ? null : System.Text.Encoding.UTF8.GetString(buffer, 0, (int)n);
        }
    }

    /// <summary>A path that names the file <paramref name="fd"/> refers to, for calls that take a path (mount).</summary>
    public static string ProcPath(SafeFd fd) => "/proc/self/fd/" + fd.Fd.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static int Resolve(SafeFd root, string path)
    {
        var how = new Libc.open_how
        {
            flags = (ulong)(Libc.O_PATH | Libc.O_CLOEXEC),
            resolve = Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS,
        };
        var relative = path.TrimStart('/');
        int fd;
        var attempts = 0;
        // EAGAIN: a rename raced with a ".." in the walk; the kernel asks for a retry.
        while ((fd = Libc.openat2(root.Fd, relative.Length == 0 ? "." : relative, &how)) < 0 && Marshal.GetLastPInvokeError() == Libc.EAGAIN && ++attempts < 16)
        {
        }
        return fd;
    }

    private static void Create(SafeFd parent, string name, bool directory, string shown)
    {
        if (directory)
        {
            ErrnoException.Check(Libc.mkdirat(parent.Fd, name, 0x1ed /* 0755 */), "mkdir", shown);
            return;
        }
        // O_EXCL|O_NOFOLLOW: a name that appeared meanwhile, or a dangling symlink, is an error, never followed.
        var fd = ErrnoException.Check(Libc.openat(parent.Fd, name, Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_WRONLY | Libc.O_CLOEXEC, 0x1a4 /* 0644 */), "create", shown);
        Libc.close(fd);
    }
}
