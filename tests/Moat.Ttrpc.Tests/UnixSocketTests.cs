using System.Net.Sockets;

namespace Moat.Ttrpc.Tests;

public sealed class UnixSocketTests
{
    private static readonly TimeSpan Limit = Extensions.Limit;

    private static string TempSocketPath() => Path.Combine(Path.GetTempPath(), $"moat-ttrpc-{Guid.NewGuid():N}.sock");

    private static async Task<Task> StartListeningAsync(TestServer server, string path, CancellationToken ct)
    {
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var listen = server.Server.ListenUnixAsync(path, ct, listening.SetResult);
        await Task.WhenAny(listening.Task, listen).WaitAsync(Limit, CancellationToken.None);
        if (listen.IsFaulted)
        {
            await listen;
        }

        return listen;
    }

    /// <summary>Sends raw bytes and reports whether the server then closed the connection.</summary>
    private static async Task<bool> ServerClosesAfterAsync(string path, byte[] bytes)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(Moat.Linux.UnixSocketPath.ToEndPoint(path)).WaitAsync(Limit);
        await socket.SendAsync(bytes);
        var buffer = new byte[64];
        try
        {
            return await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Limit) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }

    [Fact]
    public async Task PathSocket_ServesClients_RemovesStaleFile_AndCleansUp()
    {
        var path = TempSocketPath();
        await File.WriteAllTextAsync(path, "stale");
        var server = new TestServer();
        using var cts = new CancellationTokenSource();
        var listen = await StartListeningAsync(server, path, cts.Token);

        await using var first = await TtrpcClient.ConnectUnixAsync(path, CancellationToken.None).WaitAsync(Limit);
        await using var second = await TtrpcClient.ConnectUnixAsync(path, CancellationToken.None).WaitAsync(Limit);
        var results = await Task.WhenAll(
            Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? first : second).EchoAsync("Echo", $"u{i}")));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"u{i}"), results);

        await cts.CancelAsync();
        await listen.WaitAsync(Limit);
        Assert.False(File.Exists(path));
        await first.Completion.WaitAsync(Limit);
        await second.Completion.WaitAsync(Limit);
    }

    [Fact]
    public async Task BadFrames_CloseOnlyThatConnection_AndServerKeepsServing()
    {
        var path = TempSocketPath();
        var server = new TestServer();
        using var cts = new CancellationTokenSource();
        var listen = await StartListeningAsync(server, path, cts.Token);
        await using var bystander = await TtrpcClient.ConnectUnixAsync(path, CancellationToken.None).WaitAsync(Limit);
        Assert.Equal("before", await bystander.EchoAsync("Echo", "before"));

        Assert.True(await ServerClosesAfterAsync(path, Frames.Raw(0, 1, 0x07, 0)));
        Assert.True(await ServerClosesAfterAsync(path, Frames.Raw(0x7fffffff, 1, 1, 0)));

        Assert.Contains(server.Logs, l => l.Contains("unknown frame type 0x07", StringComparison.Ordinal));
        Assert.Contains(server.Logs, l => l.Contains("exceeds the maximum", StringComparison.Ordinal));
        Assert.Equal("after", await bystander.EchoAsync("Echo", "after"));
        await using var newcomer = await TtrpcClient.ConnectUnixAsync(path, CancellationToken.None).WaitAsync(Limit);
        Assert.Equal("new", await newcomer.EchoAsync("Echo", "new"));
        Assert.False(listen.IsCompleted);

        await cts.CancelAsync();
        await listen.WaitAsync(Limit);
    }

    [Fact]
    public async Task AbstractSocket_ServesClients_AndStopsOnCancel()
    {
        var name = $"@moat-ttrpc-test-{Guid.NewGuid():N}";
        var server = new TestServer();
        using var cts = new CancellationTokenSource();
        var listen = await StartListeningAsync(server, name, cts.Token);

        await using (var client = await TtrpcClient.ConnectUnixAsync(name, CancellationToken.None).WaitAsync(Limit))
        {
            Assert.Equal("abstract", await client.EchoAsync("Echo", "abstract"));
        }

        Assert.False(File.Exists(name));
        await cts.CancelAsync();
        await listen.WaitAsync(Limit);
        await Assert.ThrowsAnyAsync<SocketException>(() => TtrpcClient.ConnectUnixAsync(name, CancellationToken.None).WaitAsync(Limit));
    }

    [Fact]
    public async Task ListenAsync_OnPreboundSocket_Serves()
    {
        var path = TempSocketPath();
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        var server = new TestServer();
        using var cts = new CancellationTokenSource();
        var listen = server.Server.ListenAsync(listener, cts.Token);

        try
        {
            await using var client = await TtrpcClient.ConnectUnixAsync(path, CancellationToken.None).WaitAsync(Limit);
            Assert.Equal("prebound", await client.EchoAsync("Echo", "prebound"));

            await cts.CancelAsync();
            await listen.WaitAsync(Limit);
            await client.Completion.WaitAsync(Limit);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task ConnectToMissingSocket_Throws()
    {
        await Assert.ThrowsAnyAsync<SocketException>(() =>
            TtrpcClient.ConnectUnixAsync(TempSocketPath(), CancellationToken.None).WaitAsync(Limit));
    }
}
