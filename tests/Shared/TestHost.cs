using System.Net;
using System.Net.Sockets;

namespace Moat.Tests.Shared;

/// <summary>What several test projects need of the machine they run on: the repository, a free port.</summary>
internal static class TestHost
{
    /// <summary>The repository's root (where Moat.slnx is), above the test binary.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Moat.slnx")))
                {
                    return dir.FullName;
                }
            }
            throw new DirectoryNotFoundException($"no Moat.slnx above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>A loopback TCP port free a moment ago (the kernel's pick), for a server the test starts.</summary>
    public static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
