using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Runtime;

/// <summary>
/// Port forwarding (CRI PortForward, <c>kubectl port-forward</c>) into a pod whose servers listen
/// in its VM. containerd connects to <c>127.0.0.1:PORT</c> inside the pod's network namespace on the
/// host, where nothing of the pod runs. So one socket listens on that namespace's loopback (an
/// ephemeral port) and a NAT rule in the namespace sends every TCP connection to 127.0.0.0/8 there.
/// The accepted connection's original destination (<c>SO_ORIGINAL_DST</c>) names the pod's port,
/// the guest agent connects to it on the guest's loopback, and the bytes go both ways through agent
/// calls. Only processes in the pod's network namespace (root's, on the host) reach the listener:
/// nothing is exposed outside the pod.
/// </summary>
public sealed class PortForwarder : IAsyncDisposable
{
    /// <summary>Forwarded connections open at once; more are reset.</summary>
    internal const int MaxConnections = 64;

    /// <summary>Bytes moved per agent call.</summary>
    internal const int ChunkBytes = 64 * 1024;

    private const int SolIp = 0;
    private const int SoOriginalDst = 80;

    private readonly Socket _listener;
    private readonly Func<IGuestPorts> _guestOf;
    private readonly Action<string> _log;
    private readonly Func<Socket, int> _portOf;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Task, bool> _open = new();
    private readonly Task _accepting;
    private Func<Task>? _undo;

    /// <param name="guest">The guest's ports, once the VM is up (no connection reaches the listener before: the pod is not yet reported).</param>
    internal PortForwarder(Socket listener, Func<IGuestPorts> guest, Action<string> log, Func<Socket, int>? portOf = null)
    {
        _listener = listener;
        _guestOf = guest;
        _log = log;
        _portOf = portOf ?? OriginalPort;
        ListenPort = ((IPEndPoint)listener.LocalEndPoint!).Port;
        _accepting = AcceptAsync();
    }

    /// <summary>The port the listener has in the pod's namespace (where the NAT rule sends connections).</summary>
    public int ListenPort { get; }

    /// <summary>Connections being forwarded now.</summary>
    internal int OpenConnections => _open.Count;

    /// <summary>
    /// A listener on the loopback of network namespace <paramref name="netnsPath"/>, made on a
    /// thread that enters it (the socket belongs to the namespace it was made in).
    /// </summary>
    public static Socket ListenIn(string netnsPath) => FreshThread.Run(() =>
    {
        FreshThread.Enter(netnsPath, Libc.CLONE_NEWNET);
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            s.Listen(MaxConnections);
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    });

    /// <summary>The NAT rule (iptables) that sends the namespace's loopback TCP connections to <paramref name="port"/>.</summary>
    internal static string[] RedirectRule(string action, int port) =>
        ["iptables", "-w", "5", "-t", "nat", action, "OUTPUT", "-p", "tcp", "-d", "127.0.0.0/8",
         "-j", "REDIRECT", "--to-ports", port.ToString(CultureInfo.InvariantCulture)];

    /// <summary>Listens in the pod's namespace and adds the rule there; the rule goes again on dispose.</summary>
    public static async Task<PortForwarder> StartAsync(string netnsPath, Func<IGuestPorts> guest, Action<string> log, CancellationToken ct)
    {
        var listener = ListenIn(netnsPath);
        var forwarder = new PortForwarder(listener, guest, log);
        try
        {
            await PodNetwork.InNamespaceAsync(netnsPath, null, ct, RedirectRule("-A", forwarder.ListenPort)).ConfigureAwait(false);
        }
        catch
        {
            await forwarder.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        var undo = RedirectRule("-D", forwarder.ListenPort);
        forwarder._undo = async () =>
        {
            if (File.Exists(netnsPath))
            {
                await PodNetwork.InNamespaceAsync(netnsPath, null, CancellationToken.None, undo).ConfigureAwait(false);
            }
        };
        return forwarder;
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            if (_open.Count >= MaxConnections)
            {
                _log($"port-forward: {MaxConnections} connections are open, one more refused");
                Reset(client);
                continue;
            }
            var forward = ForwardAsync(client);
            _open[forward] = true;
            _ = forward.ContinueWith(t => _open.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>The port the client asked for: the destination before the NAT rule sent it here.</summary>
    private static int OriginalPort(Socket client)
    {
        Span<byte> sockaddr = stackalloc byte[16];
        var n = client.GetRawSocketOption(SolIp, SoOriginalDst, sockaddr);
        // struct sockaddr_in: family (2 bytes), port (network order), address.
        return n >= 4 ? (sockaddr[2] << 8) | sockaddr[3] : ((IPEndPoint)client.LocalEndPoint!).Port;
    }

    private async Task ForwardAsync(Socket client)
    {
        await Task.Yield();
        using (client)
        {
            IGuestPorts guest;
            int port;
            uint stream;
            try
            {
                guest = _guestOf();
                port = _portOf(client);
                stream = await guest.OpenAsync(port, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RuntimeException or SocketException or OperationCanceledException or InvalidOperationException)
            {
                _log($"port-forward: {e.Message}");
                Reset(client);
                return;
            }
            client.NoDelay = true;
            using var both = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var up = PumpUpAsync(guest, client, stream, both.Token);
            var down = PumpDownAsync(guest, client, stream, both.Token);
            // A clean end of one direction leaves the other running (a half-close); a failure ends both.
            var first = await Task.WhenAny(up, down).ConfigureAwait(false);
            if (!await first.ConfigureAwait(false))
            {
                await both.CancelAsync().ConfigureAwait(false);
            }
            var clean = await up.ConfigureAwait(false) & await down.ConfigureAwait(false);
            if (!clean)
            {
                Reset(client);
            }
            if (_stop.IsCancellationRequested)
            {
                return; // the VM goes next, and every stream with it
            }
            try
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await guest.CloseAsync(stream, sendOnly: false, deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RuntimeException or OperationCanceledException)
            {
                // The VM is going, or the agent no longer knows the stream: nothing is left to free.
            }
        }
    }

    /// <summary>Client to guest, until the client's EOF (passed on as a half-close: true) or a failure (false).</summary>
    private static async Task<bool> PumpUpAsync(IGuestPorts guest, Socket client, uint stream, CancellationToken ct)
    {
        var buffer = new byte[ChunkBytes];
        try
        {
            while (true)
            {
                var n = await client.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    await guest.CloseAsync(stream, sendOnly: true, ct).ConfigureAwait(false);
                    return true;
                }
                await guest.WriteAsync(stream, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is RuntimeException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Guest to client, until the guest's server closes (passed on as a half-close: true) or a failure (false).</summary>
    private static async Task<bool> PumpDownAsync(IGuestPorts guest, Socket client, uint stream, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var r = await guest.ReadAsync(stream, ChunkBytes, ct).ConfigureAwait(false);
                if (!r.Data.IsEmpty)
                {
                    await client.SendAsync(r.Data, SocketFlags.None, ct).ConfigureAwait(false);
                }
                if (r.Eof)
                {
                    client.Shutdown(SocketShutdown.Send);
                    return true;
                }
            }
        }
        catch (Exception e) when (e is RuntimeException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Closes with a reset, as a refused connection would end for the client.</summary>
    private static void Reset(Socket s)
    {
        try
        {
            s.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }
        s.Dispose();
    }

    private int _disposed;

    /// <summary>Stops listening, ends every forwarded connection and removes the NAT rule; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);
        await Task.WhenAll(_open.Keys).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _undo, null) is { } undo)
        {
            try
            {
                await undo().ConfigureAwait(false);
            }
            catch (RuntimeException e)
            {
                _log($"warning: port-forward: {e.Message}");
            }
        }
        _stop.Dispose();
    }
}
