using System.Net.Sockets;
using System.Text.Json.Nodes;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Shim;

/// <summary>
/// <c>start</c>: start the shim daemon for this container's group (or reuse the running one) and
/// print its address. containerd reads our combined output, so nothing else is printed, and the
/// daemon keeps none of our stdout/stderr.
/// </summary>
internal static class StartCommand
{
    public static async Task<int> RunAsync(ShimArgs a)
    {
        try
        {
            var group = GroupOf(a.Bundle) ?? a.Id;
            var socket = ShimPaths.Socket(a.Namespace, group);
            if (group != a.Id && await CanConnectAsync(socket))
            {
                return Answer(a, socket);
            }
            ShimPaths.CreateSocketDir();
            var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot locate the shim executable");
            var devnull = ErrnoException.Check(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null");
            var (ready, readyWrite) = Pipes.Create();
            var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                .Select(e => $"{e.Key}={e.Value}").Append($"MOAT_SHIM_SOCKET={socket}").ToList();
            int pid;
            try
            {
                pid = Spawner.Spawn(new SpawnRequest(self, [self, .. a.ToDaemonArgs()], env)
                {
                    Fds = new Dictionary<int, int> { [0] = devnull, [1] = devnull, [2] = devnull, [ShimDaemon.ReadyFd] = readyWrite.Fd },
                    NewSession = true,
                    WorkingDirectory = a.Bundle,
                });
            }
            finally
            {
                Libc.close(devnull);
                readyWrite.Dispose();
            }
            // The daemon writes one byte once it listens; EOF means it died first.
            using (ready)
            {
                Span<byte> b = stackalloc byte[1];
                if (Pipes.Read(ready.Fd, b) != 1)
                {
                    Console.Error.WriteLine($"containerd-shim-moat-v2: the shim daemon for {a.Id} (pid {pid}) exited before listening on {socket}");
                    return 1;
                }
            }
            return Answer(a, socket);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"containerd-shim-moat-v2: start {a.Id}: {e.Message}");
            return 1;
        }
    }

    /// <summary>
    /// Tells the caller the daemon's address: printed for this start and, for containerd (which
    /// names its own address), written to the bundle's "address" file, where a restarted
    /// containerd finds the shims of its running tasks again. Moat's CLI names none: its bundle
    /// is the user's, and gets nothing written into it.
    /// </summary>
    private static int Answer(ShimArgs a, string socket)
    {
        var address = "unix://" + socket;
        if (a.Address.Length > 0)
        {
            AtomicFile.Write(Path.Combine(a.Bundle, "address"), address);
        }
        Console.Write(address);
        return 0;
    }

    /// <summary>Containers of one pod share a shim and a VM: CRI's sandbox id, or runc's group annotation.</summary>
    private static string? GroupOf(string bundle)
    {
        try
        {
            var annotations = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))?["annotations"];
            return (string?)annotations?["io.kubernetes.cri.sandbox-id"] ?? (string?)annotations?["io.containerd.runc.v2.group"];
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private static async Task<bool> CanConnectAsync(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await s.ConnectAsync(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
