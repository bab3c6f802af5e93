using System.Text.Json;
using System.Text.Json.Nodes;

namespace Moat.Hypervisor.Tests;

public sealed class QmpClientTests
{
    private static readonly TimeSpan Timeout = FakeQmpServer.Timeout;

    [Fact]
    public async Task ConnectAsync_AbstractSocket_ReadsGreetingAndNegotiatesCapabilities()
    {
        await using var server = FakeQmpServer.Listen();
        var connecting = QmpClient.ConnectAsync(server.SocketPath, CancellationToken.None);
        await server.AcceptAsync();
        await server.SendAsync(FakeQmpServer.Greeting);
        var caps = await server.ReceiveAsync();
        Assert.Equal("qmp_capabilities", (string?)caps["execute"]);
        Assert.Null(caps["arguments"]);
        Assert.False(connecting.IsCompleted, "handshake must wait for the qmp_capabilities reply");
        await server.ReplyAsync(caps, "{}");

        await using var client = await connecting.WaitAsync(Timeout);
        Assert.Equal("7.2.22", client.QemuVersion);
        Assert.Equal(["oob"], client.ServerCapabilities);
    }

    [Fact]
    public async Task ConnectAsync_FilesystemSocket_Works()
    {
        string dir = Directory.CreateTempSubdirectory("moat-qmp-").FullName;
        try
        {
            await using var server = FakeQmpServer.Listen(Path.Combine(dir, "qmp.sock"));
            var connecting = QmpClient.ConnectAsync(server.SocketPath, CancellationToken.None);
            await server.AcceptAsync();
            await server.HandshakeAsync();
            await using var client = await connecting.WaitAsync(Timeout);
            Assert.Equal("7.2.22", client.QemuVersion);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task ConnectAsync_NoListener_ThrowsIOExceptionNamingPath()
    {
        string path = "@moat-test-nobody-" + Guid.NewGuid().ToString("N");
        var ex = await Assert.ThrowsAsync<IOException>(
            () => QmpClient.ConnectAsync(path, CancellationToken.None).WaitAsync(Timeout));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_BadGreeting_ThrowsProtocolError()
    {
        var (server, stream) = await FakeQmpServer.PairAsync();
        await using var _ = server;
        var connecting = QmpClient.ConnectAsync(stream, CancellationToken.None);
        await server.SendAsync("""{"hello": 1}""");
        var ex = await Assert.ThrowsAsync<QmpProtocolException>(() => connecting.WaitAsync(Timeout));
        Assert.Contains("greeting", ex.Message, StringComparison.Ordinal);
        Assert.True(await server.SeesEofAsync(), "client must close the connection");
    }

    // Found by fuzzing (fuzz/corpus/qmp/crash-invalid-utf8-capability.txt): JsonDocument checks a string's
    // UTF-8 only when it is read, so GetString threw InvalidOperationException out of the handshake.
    [Fact]
    public async Task ConnectAsync_GreetingNotUtf8_ThrowsProtocolError()
    {
        var (server, stream) = await FakeQmpServer.PairAsync();
        await using var _ = server;
        var connecting = QmpClient.ConnectAsync(stream, CancellationToken.None);
        await server.SendBytesAsync([.. "{\"QMP\": {\"version\": {}, \"capabilities\": [\""u8, 0x8b, .. "ob\"]}}\n"u8]);
        var ex = await Assert.ThrowsAsync<QmpProtocolException>(() => connecting.WaitAsync(Timeout));
        Assert.Contains("UTF-8", ex.Message, StringComparison.Ordinal);
    }

    // The same for an event or a reply after the handshake: the connection closes with a protocol error.
    [Fact]
    public async Task Event_NotUtf8_ClosesWithProtocolError()
    {
        var (server, stream) = await FakeQmpServer.PairAsync();
        await using var _ = server;
        var connecting = QmpClient.ConnectAsync(stream, CancellationToken.None);
        await server.HandshakeAsync();
        await using var client = await connecting.WaitAsync(Timeout);
        await server.SendBytesAsync([.. "{\"event\": \"STOP\", \"data\": {\"reason\": \""u8, 0xe9, .. "\"}}\n"u8]);
        var ex = await Assert.ThrowsAsync<QmpProtocolException>(() => client.Completion.WaitAsync(Timeout));
        Assert.Contains("UTF-8", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_CapabilitiesRejected_ThrowsQmpException()
    {
        var (server, stream) = await FakeQmpServer.PairAsync();
        await using var _ = server;
        var connecting = QmpClient.ConnectAsync(stream, CancellationToken.None);
        await server.SendAsync(FakeQmpServer.Greeting);
        var caps = await server.ExpectAsync("qmp_capabilities");
        await server.ReplyErrorAsync(caps, "CommandNotFound", "Capabilities negotiation is already complete");
        var ex = await Assert.ThrowsAsync<QmpException>(() => connecting.WaitAsync(Timeout));
        Assert.Equal("CommandNotFound", ex.ErrorClass);
    }

    [Fact]
    public async Task ConnectAsync_EofBeforeGreeting_Throws()
    {
        var (server, stream) = await FakeQmpServer.PairAsync();
        await using var _ = server;
        var connecting = QmpClient.ConnectAsync(stream, CancellationToken.None);
        server.CloseConnection();
        await Assert.ThrowsAsync<EndOfStreamException>(() => connecting.WaitAsync(Timeout));
    }

    [Fact]
    public async Task ConnectAsync_Cancelled_WhileWaitingForGreeting()
    {
        var (server, stream) = await FakeQmpServer.PairAsync();
        await using var _ = server;
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => QmpClient.ConnectAsync(stream, cts.Token).WaitAsync(Timeout));
    }

    [Fact]
    public async Task ExecuteAsync_ReturnsReplyMatchedById_WithArguments()
    {
        await using var h = await Harness.StartAsync();
        var call = h.Client.ExecuteAsync("human-monitor-command", new JsonObject { ["command-line"] = "info version" }, CancellationToken.None);
        var request = await h.Server.ExpectAsync("human-monitor-command");
        Assert.Equal("info version", (string?)request["arguments"]?["command-line"]);
        await h.Server.ReplyAsync(request, "\"7.2.22\\r\\n\"");
        var result = await call.WaitAsync(Timeout);
        Assert.Equal("7.2.22\r\n", result.GetString());
    }

    [Fact]
    public async Task QueryStatusAsync_ReturnsStatus()
    {
        await using var h = await Harness.StartAsync();
        var call = h.Client.QueryStatusAsync(CancellationToken.None);
        var request = await h.Server.ExpectAsync("query-status");
        await h.Server.ReplyAsync(request, """{"status": "paused", "singlestep": false, "running": false}""");
        Assert.Equal("paused", await call.WaitAsync(Timeout));
    }

    [Theory]
    [InlineData("stop")]
    [InlineData("cont")]
    [InlineData("system_powerdown")]
    public async Task TypedHelpers_SendTheirCommand(string command)
    {
        await using var h = await Harness.StartAsync();
        Task call = command switch
        {
            "stop" => h.Client.StopAsync(CancellationToken.None),
            "cont" => h.Client.ContinueAsync(CancellationToken.None),
            _ => h.Client.SystemPowerdownAsync(CancellationToken.None),
        };
        var request = await h.Server.ExpectAsync(command);
        await h.Server.ReplyAsync(request, "{}");
        await call.WaitAsync(Timeout);
    }

    [Fact]
    public async Task ErrorReply_ThrowsQmpExceptionWithClassAndDesc()
    {
        await using var h = await Harness.StartAsync();
        var call = h.Client.ContinueAsync(CancellationToken.None);
        var request = await h.Server.ExpectAsync("cont");
        await h.Server.ReplyErrorAsync(request, "GenericError", "Resetting the Virtual Machine is required");
        var ex = await Assert.ThrowsAsync<QmpException>(() => call.WaitAsync(Timeout));
        Assert.Equal("GenericError", ex.ErrorClass);
        Assert.Equal("Resetting the Virtual Machine is required", ex.Description);
        Assert.Equal("cont", ex.Command);
        Assert.Equal("QMP command 'cont' failed: GenericError: Resetting the Virtual Machine is required", ex.Message);

        // The connection stays usable after a command error.
        var next = h.Client.QueryStatusAsync(CancellationToken.None);
        await h.Server.ReplyAsync(await h.Server.ExpectAsync("query-status"), """{"status": "running"}""");
        Assert.Equal("running", await next.WaitAsync(Timeout));
    }

    [Fact]
    public async Task EventsBetweenCommandAndReply_AreDeliveredAndReplyStillMatches()
    {
        await using var h = await Harness.StartAsync();
        var call = h.Client.StopAsync(CancellationToken.None);
        var request = await h.Server.ExpectAsync("stop");
        await h.Server.SendEventAsync("STOP", "{}");
        await h.Server.SendEventAsync("SHUTDOWN", """{"guest": true, "reason": "guest-shutdown"}""");
        await h.Server.ReplyAsync(request, "{}");
        await call.WaitAsync(Timeout);

        var first = await h.Client.Events.ReadAsync().AsTask().WaitAsync(Timeout);
        var second = await h.Client.Events.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal("STOP", first.Name);
        Assert.Equal("SHUTDOWN", second.Name);
        Assert.Equal("guest-shutdown", second.Data.GetProperty("reason").GetString());
        Assert.True(second.Data.GetProperty("guest").GetBoolean());
    }

    // A hostile QEMU must not grow the host: 1024 unread events of 16 MiB each would pin 16 GiB.
    [Fact]
    public async Task OversizedEvent_KeepsItsNameButNotItsData()
    {
        await using var h = await Harness.StartAsync();
        var padding = new string('x', QmpClient.MaxEventBytes);
        var longName = new string('N', 100_000);
        await h.Server.SendAsync($$$"""{"event": "GUEST_PANICKED", "data": {"action": "pause", "pad": "{{{padding}}}"}}""");
        await h.Server.SendAsync($$"""{"event": "{{longName}}"}""");
        var big = await h.Client.Events.ReadAsync().AsTask().WaitAsync(Timeout);
        var named = await h.Client.Events.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal("GUEST_PANICKED", big.Name);
        Assert.Equal(JsonValueKind.Undefined, big.Data.ValueKind);
        Assert.Equal(QmpClient.MaxEventNameLength, named.Name.Length);
    }

    [Fact]
    public async Task EventWithoutData_HasUndefinedData()
    {
        await using var h = await Harness.StartAsync();
        await h.Server.SendAsync("""{"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}}""");
        var ev = await h.Client.Events.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal("RESUME", ev.Name);
        Assert.Equal(JsonValueKind.Undefined, ev.Data.ValueKind);
    }

    [Fact]
    public async Task Commands_AreSentOneAtATime_InQueueOrder()
    {
        await using var h = await Harness.StartAsync();
        var first = h.Client.StopAsync(CancellationToken.None);
        var second = h.Client.ContinueAsync(CancellationToken.None);
        var stop = await h.Server.ExpectAsync("stop");
        Assert.True(await h.Server.StaysSilentAsync(TimeSpan.FromMilliseconds(200)), "second command sent before the first was answered");
        await h.Server.ReplyAsync(stop, "{}");
        var cont = await h.Server.ReceivePendingAsync();
        Assert.Equal("cont", (string?)cont["execute"]);
        Assert.NotEqual(stop["id"]!.ToJsonString(), cont["id"]!.ToJsonString());
        await h.Server.ReplyAsync(cont, "{}");
        await Task.WhenAll(first, second).WaitAsync(Timeout);
    }

    [Fact]
    public async Task ReplyWithoutId_GoesToTheInFlightCommand()
    {
        await using var h = await Harness.StartAsync();
        var call = h.Client.ExecuteAsync("bogus", null, CancellationToken.None);
        await h.Server.ExpectAsync("bogus");
        await h.Server.SendAsync("""{"error": {"class": "GenericError", "desc": "JSON parse error"}}""");
        var ex = await Assert.ThrowsAsync<QmpException>(() => call.WaitAsync(Timeout));
        Assert.Equal("JSON parse error", ex.Description);
    }

    [Fact]
    public async Task CrLfTerminatedLines_AreAccepted()
    {
        var (server, stream) = await FakeQmpServer.PairAsync();
        await using var _ = server;
        var connecting = QmpClient.ConnectAsync(stream, CancellationToken.None);
        await server.SendAsync(FakeQmpServer.Greeting, "\r\n");
        var caps = await server.ExpectAsync("qmp_capabilities");
        await server.SendAsync($$"""{"return": {}, "id": {{caps["id"]!.ToJsonString()}}}""", "\r\n");
        await using var client = await connecting.WaitAsync(Timeout);
        Assert.Equal("7.2.22", client.QemuVersion);
    }

    [Fact]
    public async Task CancelledQueuedCommand_IsNeverSent()
    {
        await using var h = await Harness.StartAsync();
        var first = h.Client.StopAsync(CancellationToken.None);
        var stop = await h.Server.ExpectAsync("stop");
        using var cts = new CancellationTokenSource();
        var withdrawn = h.Client.ExecuteAsync("system_reset", null, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => withdrawn.WaitAsync(Timeout));

        var third = h.Client.ContinueAsync(CancellationToken.None);
        await h.Server.ReplyAsync(stop, "{}");
        await h.Server.ReplyAsync(await h.Server.ExpectAsync("cont"), "{}");
        await Task.WhenAll(first, third).WaitAsync(Timeout);
    }

    [Fact]
    public async Task QuitAsync_EofInsteadOfReply_IsSuccess()
    {
        await using var h = await Harness.StartAsync();
        var quit = h.Client.QuitAsync(CancellationToken.None);
        await h.Server.ExpectAsync("quit");
        h.Server.CloseConnection();
        await quit.WaitAsync(Timeout);
        await h.Client.Completion.WaitAsync(Timeout);
    }

    [Fact]
    public async Task QuitAsync_ReplyThenEof_IsSuccess()
    {
        await using var h = await Harness.StartAsync();
        var quit = h.Client.QuitAsync(CancellationToken.None);
        var request = await h.Server.ExpectAsync("quit");
        await h.Server.SendEventAsync("SHUTDOWN", """{"guest": false, "reason": "host-qmp-quit"}""");
        await h.Server.ReplyAsync(request, "{}");
        h.Server.CloseConnection();
        await quit.WaitAsync(Timeout);
        await h.Client.Completion.WaitAsync(Timeout);
        Assert.Equal("SHUTDOWN", (await h.Client.Events.ReadAsync().AsTask().WaitAsync(Timeout)).Name);
    }

    [Fact]
    public async Task ServerClosingMidCommand_FailsPendingCall()
    {
        await using var h = await Harness.StartAsync();
        var call = h.Client.QueryStatusAsync(CancellationToken.None);
        await h.Server.ExpectAsync("query-status");
        h.Server.CloseConnection();

        var ex = await Assert.ThrowsAsync<IOException>(() => call.WaitAsync(Timeout));
        Assert.Contains("'query-status'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("closed by peer", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<EndOfStreamException>(() => h.Client.Completion.WaitAsync(Timeout));

        // Later commands fail at once; the event stream ends.
        await Assert.ThrowsAsync<IOException>(() => h.Client.StopAsync(CancellationToken.None).WaitAsync(Timeout));
        Assert.False(await h.Client.Events.WaitToReadAsync().AsTask().WaitAsync(Timeout));
    }

    [Fact]
    public async Task GarbageLine_ClosesWithClearError()
    {
        await using var h = await Harness.StartAsync();
        var call = h.Client.QueryStatusAsync(CancellationToken.None);
        await h.Server.ExpectAsync("query-status");
        await h.Server.SendAsync("this is not json");

        var ex = await Assert.ThrowsAsync<IOException>(() => call.WaitAsync(Timeout));
        Assert.IsType<QmpProtocolException>(ex.InnerException);
        Assert.Contains("not valid JSON", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'this is not json'", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<QmpProtocolException>(() => h.Client.Completion.WaitAsync(Timeout));
        Assert.True(await h.Server.SeesEofAsync(), "client must close the connection");
    }

    [Fact]
    public async Task NonObjectJson_IsAProtocolError()
    {
        await using var h = await Harness.StartAsync();
        await h.Server.SendAsync("[1, 2]");
        var ex = await Assert.ThrowsAsync<QmpProtocolException>(() => h.Client.Completion.WaitAsync(Timeout));
        Assert.Contains("expected a JSON object", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Abort_IsIdempotent_KeepsFirstReason_FailsPending()
    {
        await using var h = await Harness.StartAsync();
        var call = h.Client.QueryStatusAsync(CancellationToken.None);
        await h.Server.ExpectAsync("query-status");
        var first = new InvalidDataException("VMM did not answer");
        h.Client.Abort(first);
        h.Client.Abort(new InvalidOperationException("second"));

        var ex = await Assert.ThrowsAsync<IOException>(() => call.WaitAsync(Timeout));
        Assert.Same(first, ex.InnerException);
        Assert.Same(first, await Assert.ThrowsAsync<InvalidDataException>(() => h.Client.Completion.WaitAsync(Timeout)));
        Assert.True(await h.Server.SeesEofAsync());
    }

    [Fact]
    public async Task DisposeAsync_CompletesCleanly_AndLaterCallsThrowObjectDisposed()
    {
        var h = await Harness.StartAsync();
        await h.DisposeAsync();
        await h.Client.Completion.WaitAsync(Timeout);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => h.Client.StopAsync(CancellationToken.None).WaitAsync(Timeout));
        await h.Client.DisposeAsync(); // idempotent
    }

    [Fact]
    public async Task DisposeAsync_FailsInFlightCommand()
    {
        await using var h = await Harness.StartAsync();
        var call = h.Client.QueryStatusAsync(CancellationToken.None);
        await h.Server.ExpectAsync("query-status");
        await h.Client.DisposeAsync().AsTask().WaitAsync(Timeout);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => call.WaitAsync(Timeout));
    }

    /// <summary>A connected client and its scripted server.</summary>
    private sealed class Harness : IAsyncDisposable
    {
        private Harness(FakeQmpServer server, QmpClient client)
        {
            Server = server;
            Client = client;
        }

        public FakeQmpServer Server { get; }

        public QmpClient Client { get; }

        public static async Task<Harness> StartAsync()
        {
            var (server, stream) = await FakeQmpServer.PairAsync();
            var connecting = QmpClient.ConnectAsync(stream, CancellationToken.None);
            await server.HandshakeAsync();
            return new Harness(server, await connecting.WaitAsync(Timeout));
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync().AsTask().WaitAsync(Timeout);
            await Server.DisposeAsync();
        }
    }
}
