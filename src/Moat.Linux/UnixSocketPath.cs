using System.Net.Sockets;
using System.Text;

namespace Moat.Linux;

/// <summary>
/// Unix socket path convention used across Moat: a leading '@' names a Linux abstract socket
/// (no file; the name is the rest of the string), anything else is a filesystem path.
/// </summary>
public static class UnixSocketPath
{
    /// <summary>sizeof(sockaddr_un.sun_path) minus the NUL terminator (or, for abstract names, the leading NUL).</summary>
    public const int MaxBytes = 107;

    public static bool IsAbstract(string path) => path.StartsWith('@');

    /// <summary>The name as QEMU's <c>path=</c> expects it: without the '@' for abstract sockets.</summary>
    public static string QemuPath(string path) => IsAbstract(path) ? path[1..] : path;

    public static UnixDomainSocketEndPoint ToEndPoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new UnixDomainSocketEndPoint(IsAbstract(path) ? "\0" + path[1..] : path);
    }

    /// <summary>Returns an error text if <paramref name="path"/> cannot be a Unix socket address, else null.</summary>
    public static string? Validate(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "must not be empty";
        }

        string name = QemuPath(path);
        if (name.Length == 0)
        {
            return "abstract socket name after '@' must not be empty";
        }

        if (!IsAbstract(path) && !path.StartsWith('/'))
        {
            return $"must be an absolute path or an '@abstract' name (got '{path}')";
        }

        int bytes = Encoding.UTF8.GetByteCount(name);
        return bytes > MaxBytes ? $"is {bytes} bytes long; Unix socket addresses hold at most {MaxBytes} (got '{path}')" : null;
    }
}
