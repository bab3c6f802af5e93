using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Moat.Runtime.Tests;

/// <summary>
/// The port forwarder's relay, without a VM or a namespace: the listener is on this namespace's
/// loopback, the "original port" is given, and a fake guest makes its streams real connections to
/// servers on this loopback, recording the calls.
/// </summary>
public sealed class PortForwarderTests : IAsyncLifetime
{
    /// <summary>Streams as the agent keeps them, each a connection to 127.0.0.1:port here.</summary>
    private sealed class LoopbackGuest : IGuestPorts
    {
        private readonly ConcurrentDictionary<uint, Socket> _streams = new();
        private int _next;
        public readonly ConcurrentQueue<string> Calls = new();
        public int? OversizedRead;

        public async Task<uint> OpenAsync(int port, CancellationToken ct)
        {
            Calls.Enqueue($"open {port}");
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
            }
            catch (SocketException e)
            {
                s.Dispose();
                throw new AgentException(RuntimeErrorKind.FailedPrecondition, $"nothing in the pod accepts connections on port {port} ({e.Message})");
            }
            var id = (uint)Interlocked.Increment(ref _next);
            _streams[id] = s;
            return id;
        }

        public async Task WriteAsync(uint stream, ReadOnlyMemory<byte> data, CancellationToken ct) =>
            await _streams[stream].SendAsync(data, SocketFlags.None, ct);

        public async Task<GuestOutput> ReadAsync(uint stream, int maxBytes, CancellationToken ct)
        {
            if (OversizedRead is { } n)
            {
                throw new AgentException(RuntimeErrorKind.GuestFailure, $"the agent sent {n} bytes, more than the {maxBytes} asked");
            }
            var buffer = new byte[maxBytes];
            var got = await _streams[stream].ReceiveAsync(buffer, SocketFlags.None, ct);
            return new GuestOutput(buffer.AsMemory(0, got), got == 0);
        }

        public Task CloseAsync(uint stream, bool sendOnly, CancellationToken ct)
        {
            Calls.Enqueue(sendOnly ? $"shutdown {stream}" : $"close {stream}");
            if (sendOnly)
            {
                _streams[stream].Shutdown(SocketShutdown.Send);
            }
            else if (_streams.TryRemove(stream, out var s))
            {
                s.Dispose();
            }
            return Task.CompletedTask;
        }

        public int Open => _streams.Count;
    }

    private readonly LoopbackGuest _guest = new();
    private readonly List<string> _log = [];
    private readonly List<IAsyncDisposable> _owned = [];

    private PortForwarder Forwarder(Func<int> port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(PortForwarder.MaxConnections);
        var f = new PortForwarder(listener, () => _guest, m => { lock (_log) { _log.Add(m); } }, _ => port());
        _owned.Add(f);
        return f;
    }

    private static async Task<Socket> ConnectAsync(PortForwarder f)
    {
        var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await c.ConnectAsync(new IPEndPoint(IPAddress.Loopback, f.ListenPort));
        return c;
    }

    /// <summary>A connection the forwarder resets: the reset may come as the connect completes or at the first read.</summary>
    private static async Task ExpectResetAsync(PortForwarder f, CancellationToken ct)
    {
        var e = await Record.ExceptionAsync(async () =>
        {
            using var c = await ConnectAsync(f);
            await c.ReceiveAsync(new byte[16], SocketFlags.None, ct);
        });
        Assert.Equal(SocketError.ConnectionReset, Assert.IsType<SocketException>(e).SocketErrorCode);
    }

    private static async Task<byte[]> ReadToEndAsync(Socket s, CancellationToken ct)
    {
        var all = new MemoryStream();
        var buffer = new byte[8192];
        int n;
        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
        {
            all.Write(buffer, 0, n);
        }
        return all.ToArray();
    }

    /// <summary>A server in "the pod" that reads its request to EOF, then answers with its SHA-256 and the bytes reversed, and closes.</summary>
    private static (TcpListener Server, Task Serving) HalfCloseServer(CancellationToken ct)
    {
        var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        var serving = Task.Run(async () =>
        {
            while (!ct.IsCancellationRequested)
            {
                using var c = await server.AcceptSocketAsync(ct);
                var request = await ReadToEndAsync(c, ct);
                var answer = System.Security.Cryptography.SHA256.HashData(request).Concat(request.Reverse()).ToArray();
                await c.SendAsync(answer, SocketFlags.None, ct);
                c.Shutdown(SocketShutdown.Send);
            }
        }, ct);
        return (server, serving);
    }

    [Fact]
    public async Task BytesGoBothWaysAndAHalfCloseReachesTheGuestsServer()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (server, _) = HalfCloseServer(timeout.Token);
        try
        {
            var port = ((IPEndPoint)server.LocalEndpoint).Port;
            var f = Forwarder(() => port);
            // More than one chunk each way, so the pumps loop.
            var request = new byte[PortForwarder.ChunkBytes * 5 + 123];
            new Random(7).NextBytes(request);
            using var c = await ConnectAsync(f);
            await c.SendAsync(request, SocketFlags.None, timeout.Token);
            c.Shutdown(SocketShutdown.Send);
            var answer = await ReadToEndAsync(c, timeout.Token);
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(request), answer[..32]);
            Assert.Equal(request.Reverse().ToArray(), answer[32..]);
            await WaitUntilAsync(() => f.OpenConnections == 0 && _guest.Open == 0, timeout.Token);
            Assert.Equal([$"open {port}", "shutdown 1", "close 1"], _guest.Calls.ToArray());
        }
        finally
        {
            server.Stop();
        }
    }

    [Fact]
    public async Task APortNothingListensOnResetsTheClientAndSaysWhy()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var unused = new TcpListener(IPAddress.Loopback, 0);
        unused.Start();
        var port = ((IPEndPoint)unused.LocalEndpoint).Port;
        unused.Stop();
        var f = Forwarder(() => port);
        await ExpectResetAsync(f, timeout.Token);
        await WaitUntilAsync(() => f.OpenConnections == 0, timeout.Token);
        lock (_log)
        {
            Assert.Contains(_log, l => l.Contains($"port {port}", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task AGuestThatAnswersOutOfBoundsEndsOnlyThatConnection()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (server, _) = HalfCloseServer(timeout.Token);
        try
        {
            var port = ((IPEndPoint)server.LocalEndpoint).Port;
            var f = Forwarder(() => port);
            _guest.OversizedRead = 1 << 30;
            await ExpectResetAsync(f, timeout.Token);
            await WaitUntilAsync(() => f.OpenConnections == 0 && _guest.Open == 0, timeout.Token);
            // The forwarder still serves.
            _guest.OversizedRead = null;
            using var good = await ConnectAsync(f);
            await good.SendAsync(Encoding.ASCII.GetBytes("ok"), SocketFlags.None, timeout.Token);
            good.Shutdown(SocketShutdown.Send);
            Assert.Equal("ko", Encoding.ASCII.GetString((await ReadToEndAsync(good, timeout.Token))[32..]));
        }
        finally
        {
            server.Stop();
        }
    }

    [Fact]
    public async Task ConnectionsBeyondTheLimitAreResetAndDisposeEndsTheRest()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // A server that accepts and never answers: every forwarded connection stays open.
        var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start(PortForwarder.MaxConnections * 2);
        try
        {
            var port = ((IPEndPoint)server.LocalEndpoint).Port;
            var f = Forwarder(() => port);
            var clients = new List<Socket>();
            for (var i = 0; i < PortForwarder.MaxConnections; i++)
            {
                clients.Add(await ConnectAsync(f));
            }
            await WaitUntilAsync(() => _guest.Open == PortForwarder.MaxConnections, timeout.Token);
            await ExpectResetAsync(f, timeout.Token);
            await f.DisposeAsync();
            Assert.Equal(0, f.OpenConnections);
            foreach (var c in clients)
            {
                // Each ends (reset or EOF) once the forwarder is gone.
                var r = await Record.ExceptionAsync(async () => await ReadToEndAsync(c, timeout.Token));
                Assert.True(r is null or SocketException, r?.ToString());
                c.Dispose();
            }
        }
        finally
        {
            server.Stop();
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken ct)
    {
        while (!condition())
        {
            await Task.Delay(10, ct);
        }
    }

    // xunit 2 disposes a test class through IAsyncLifetime (IAsyncDisposable alone is never called).
    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var o in _owned)
        {
            await o.DisposeAsync();
        }
    }
}
