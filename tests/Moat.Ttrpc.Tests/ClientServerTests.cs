using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Moat.Ttrpc.Tests;

/// <summary>Real client against real server over in-memory pipes.</summary>
public sealed class ClientServerTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = Extensions.Limit;

    private readonly TestServer _server = new();
    private readonly CancellationTokenSource _serverStop = new();
    private readonly List<string> _clientLogs = [];
    private TtrpcClient _client = null!;
    private Task _serving = null!;

    public Task InitializeAsync()
    {
        var (clientIn, clientOut, serverIn, serverOut) = TestStreams.CreatePipePair();
        _serving = _server.Server.ServeAsync(serverIn, serverOut, _serverStop.Token);
        _client = new TtrpcClient(clientIn, clientOut, line => { lock (_clientLogs) { _clientLogs.Add(line); } });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _serverStop.CancelAsync();
        await _serving.WaitAsync(Limit);
        _serverStop.Dispose();
    }

    [Fact]
    public async Task Echo_ReturnsPayload()
    {
        Assert.Equal("hello", await _client.EchoAsync("Echo", "hello"));
        Assert.Equal("", await _client.EchoAsync("Echo", ""));
    }

    [Fact]
    public async Task Metadata_ReachesHandler()
    {
        var options = new CallOptions { Metadata = new Dictionary<string, string> { ["sandbox"] = "sb-1" } };

        Assert.Equal("sb-1", await _client.EchoAsync("Metadata", "sandbox", options));
        Assert.Equal("<missing>", await _client.EchoAsync("Metadata", "sandbox"));
    }

    [Fact]
    public async Task UnknownMethodAndService_AreUnimplemented_AndConnectionStaysOpen()
    {
        var method = await Assert.ThrowsAsync<TtrpcException>(() => _client.EchoAsync("Nope", "x"));
        Assert.Equal(StatusCode.Unimplemented, method.Code);
        Assert.Equal($"unknown method {TestServer.Service}.Nope", method.Message);

        var service = await Assert.ThrowsAsync<TtrpcException>(() =>
            _client.CallAsync("no.Such", "Echo", new StringValue(), StringValue.Parser).WaitAsync(Limit));
        Assert.Equal(StatusCode.Unimplemented, service.Code);
        Assert.Equal("unknown service no.Such", service.Message);

        Assert.Equal("still here", await _client.EchoAsync("Echo", "still here"));
    }

    [Fact]
    public async Task HandlerTtrpcException_KeepsItsStatus()
    {
        var error = await Assert.ThrowsAsync<TtrpcException>(() => _client.EchoAsync("NotFound", "c1"));

        Assert.Equal(StatusCode.NotFound, error.Code);
        Assert.Equal("no such thing: c1", error.Message);
    }

    [Fact]
    public async Task HandlerOtherException_IsUnknownWithMessage()
    {
        var error = await Assert.ThrowsAsync<TtrpcException>(() => _client.EchoAsync("Crash", "x"));

        Assert.Equal(StatusCode.Unknown, error.Code);
        Assert.Equal("boom", error.Message);
        Assert.Contains(_server.Logs, l => l.Contains("boom", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HundredConcurrentCalls_AreAllAnswered()
    {
        var calls = Enumerable.Range(0, 100).Select(i => Task.Run(() => _client.EchoAsync("Echo", $"msg-{i}"))).ToArray();

        var results = await Task.WhenAll(calls).WaitAsync(Limit);

        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"msg-{i}"), results);
    }

    [Fact]
    public async Task RacingCallsOfMixedSizesReachTheServerWithIncreasingStreamIds()
    {
        // The server refuses a stream id that does not increase: a large request encoded between
        // taking its id and queueing its frame would otherwise be overtaken by a small one.
        var calls = Enumerable.Range(0, 400).Select(i => Task.Run(() => _client.EchoAsync("Echo", new string('x', i % 4 == 0 ? 256 * 1024 : i % 7)))).ToArray();
        var results = await Task.WhenAll(calls).WaitAsync(Limit);
        Assert.Equal(Enumerable.Range(0, 400).Select(i => i % 4 == 0 ? 256 * 1024 : i % 7), results.Select(r => r.Length));
    }

    [Fact]
    public async Task HandlersRunConcurrently()
    {
        var blocked = _client.EchoAsync("Gate", "later");
        await _server.GateEntered.Task.WaitAsync(Limit);

        // The gated handler is still running, yet another call completes.
        Assert.Equal("now", await _client.EchoAsync("Echo", "now"));
        Assert.False(blocked.IsCompleted);

        _server.Gate.SetResult();
        Assert.Equal("later", await blocked);
    }

    [Fact]
    public async Task Timeout_FailsWithDeadlineExceeded_AndCancelsServerToken()
    {
        var options = new CallOptions { Timeout = TimeSpan.FromMilliseconds(200) };

        var error = await Assert.ThrowsAsync<TtrpcException>(() => _client.EchoAsync("Block", "x", options));

        Assert.Equal(StatusCode.DeadlineExceeded, error.Code);
        var context = await _server.BlockStarted.Task.WaitAsync(Limit);
        await _server.BlockCancelled.Task.WaitAsync(Limit);
        Assert.True(context.CancellationToken.IsCancellationRequested);
        Assert.False(_client.Completion.IsCompleted);
        Assert.Equal("ok", await _client.EchoAsync("Echo", "ok"));
    }

    [Fact]
    public async Task NonPositiveTimeout_FailsImmediately()
    {
        var error = await Assert.ThrowsAsync<TtrpcException>(() =>
            _client.EchoAsync("Echo", "x", new CallOptions { Timeout = TimeSpan.Zero }));
        Assert.Equal(StatusCode.DeadlineExceeded, error.Code);
    }

    [Fact]
    public async Task Cancellation_FailsCall_AndLateResponseIsIgnored()
    {
        using var cts = new CancellationTokenSource();
        var call = _client.EchoAsync("Gate", "late", cancellationToken: cts.Token);
        await _server.GateEntered.Task.WaitAsync(Limit);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        // Let the handler answer the cancelled stream; the client must ignore it and stay usable.
        _server.Gate.SetResult();
        var deadline = DateTime.UtcNow + Limit;
        while (_server.GateCompleted == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(1, _server.GateCompleted);
        Assert.Equal("after", await _client.EchoAsync("Echo", "after"));
        Assert.False(_client.Completion.IsCompleted);
    }

    [Fact]
    public async Task AlreadyCancelledToken_Throws()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _client.EchoAsync("Echo", "x", cancellationToken: cts.Token));
    }

    [Fact]
    public async Task ServerClosing_FailsPendingCallsWithUnavailable()
    {
        var call = _client.EchoAsync("Block", "x");
        var context = await _server.BlockStarted.Task.WaitAsync(Limit);

        await _serverStop.CancelAsync();

        var error = await Assert.ThrowsAsync<TtrpcException>(() => call);
        Assert.Equal(StatusCode.Unavailable, error.Code);
        Assert.StartsWith("ttrpc connection closed: ", error.Message, StringComparison.Ordinal);
        await _client.Completion.WaitAsync(Limit);
        await _serving.WaitAsync(Limit);
        Assert.True(context.CancellationToken.IsCancellationRequested);

        var after = await Assert.ThrowsAsync<TtrpcException>(() => _client.EchoAsync("Echo", "x"));
        Assert.Equal(StatusCode.Unavailable, after.Code);
    }

    [Fact]
    public async Task Abort_IsIdempotent_KeepsFirstReason_AndFailsPendingCalls()
    {
        var call = _client.EchoAsync("Block", "x");
        await _server.BlockStarted.Task.WaitAsync(Limit);

        _client.Abort(new IOException("first"));
        _client.Abort(new IOException("second"));

        var error = await Assert.ThrowsAsync<TtrpcException>(() => call);
        Assert.Equal(StatusCode.Unavailable, error.Code);
        Assert.Equal("ttrpc connection closed: first", error.Message);
        await _client.Completion.WaitAsync(Limit);

        var later = await Assert.ThrowsAsync<TtrpcException>(() => _client.EchoAsync("Echo", "x"));
        Assert.Equal("ttrpc connection closed: first", later.Message);

        // The server sees end of stream and cancels the in-flight handler.
        await _serving.WaitAsync(Limit);
        await _server.BlockCancelled.Task.WaitAsync(Limit);
    }

    [Fact]
    public async Task OversizeRequest_IsResourceExhausted_AndNotSent()
    {
        var big = new BytesValue { Value = ByteString.CopyFrom(new byte[FrameHeader.MaxDataLength]) };

        var error = await Assert.ThrowsAsync<TtrpcException>(() =>
            _client.CallAsync(TestServer.Service, "Echo", big, BytesValue.Parser).WaitAsync(Limit));

        Assert.Equal(StatusCode.ResourceExhausted, error.Code);
        Assert.Equal("ok", await _client.EchoAsync("Echo", "ok"));
    }

    [Fact]
    public async Task LargeButAllowedPayload_RoundTrips()
    {
        var text = new string('x', 3 << 20);

        Assert.Equal(text, await _client.EchoAsync("Echo", text));
    }

    [Fact]
    public void AddUnary_RejectsDuplicateRegistration()
    {
        Assert.Throws<InvalidOperationException>(() => _server.Server.AddUnary<StringValue, StringValue>(
            TestServer.Service, "Echo", StringValue.Parser, (r, _) => Task.FromResult(r)));
    }
}
