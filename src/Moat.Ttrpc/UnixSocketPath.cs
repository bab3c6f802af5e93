using System.Net.Sockets;

namespace Moat.Ttrpc;

/// <summary>Unix socket addressing: a path starting with '@' names an abstract socket.</summary>
internal static class UnixSocketPath
{
    public static bool IsAbstract(string path) => path.StartsWith('@');

    public static UnixDomainSocketEndPoint ToEndPoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new UnixDomainSocketEndPoint(IsAbstract(path) ? "\0" + path[1..] : path);
    }
}
