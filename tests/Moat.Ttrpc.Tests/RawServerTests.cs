using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Moat.Ttrpc.Protocol;

namespace Moat.Ttrpc.Tests;

/// <summary>A real client against a hand-written server speaking raw frames.</summary>
public sealed class RawServerTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = Extensions.Limit;

    private readonly List<string> _clientLogs = [];
    private TtrpcClient _client = null!;
    private Stream _toClient = null!;
    private FrameReader _fromClient = null!;

    public Task InitializeAsync()
    {
        var (clientIn, clientOut, serverIn, serverOut) = TestStreams.CreatePipePair();
        _toClient = serverOut;
        _fromClient = new FrameReader(serverIn);
        _client = new TtrpcClient(clientIn, clientOut, line => { lock (_clientLogs) { _clientLogs.Add(line); } });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _toClient.DisposeAsync();
    }

    private string ClientLogs
    {
        get { lock (_clientLogs) { return string.Join("\n", _clientLogs); } }
    }

    private async Task<(FrameHeader Header, Request Request)> ReceiveAsync()
    {
        var frame = await _fromClient.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Limit);
        Assert.NotNull(frame);
        Assert.Equal(MessageType.Request, frame.Value.Header.Type);
        return (frame.Value.Header, Request.Parser.ParseFrom(frame.Value.Data));
    }

    private async Task SendAsync(byte[] bytes)
    {
        await _toClient.WriteAsync(bytes);
        await _toClient.FlushAsync();
    }

    [Fact]
    public async Task ConcurrentCalls_UseOddIncreasingStreamIds_AndResponsesAreDemultiplexed()
    {
        const int count = 100;
        var calls = Enumerable.Range(0, count).Select(i => Task.Run(() => _client.EchoAsync("Echo", $"m{i}"))).ToArray();

        var received = new List<(uint StreamId, string Text)>();
        for (var i = 0; i < count; i++)
        {
            var (header, request) = await ReceiveAsync();
            Assert.Equal(FrameFlags.None, header.Flags);
            received.Add((header.StreamId, StringValue.Parser.ParseFrom(request.Payload).Value));
        }

        var ids = received.Select(r => r.StreamId).ToList();
        Assert.All(ids, id => Assert.Equal(1u, id % 2));
        Assert.Equal(Enumerable.Range(0, count).Select(i => (uint)(2 * i + 1)).ToList(), ids.Order().ToList());

        // Answer in reverse order, all in a single write, each with the request's text reversed.
        var answers = received.AsEnumerable().Reverse()
            .Select(r => Frames.Response(r.StreamId, new string(r.Text.Reverse().ToArray())));
        await SendAsync(Frames.Concat(answers.ToArray()));

        var results = await Task.WhenAll(calls).WaitAsync(Limit);
        Assert.Equal(Enumerable.Range(0, count).Select(i => new string($"m{i}".Reverse().ToArray())), results);
    }

    [Fact]
    public async Task Request_CarriesServiceMethodTimeoutAndMetadata()
    {
        var options = new CallOptions
        {
            Timeout = TimeSpan.FromSeconds(5),
            Metadata = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" },
        };
        var call = _client.EchoAsync("Echo", "x", options);

        var (header, request) = await ReceiveAsync();
        Assert.Equal(1u, header.StreamId);
        Assert.Equal(TestServer.Service, request.Service);
        Assert.Equal("Echo", request.Method);
        Assert.Equal(5_000_000_000L, request.TimeoutNano);
        Assert.Equal(new[] { ("a", "1"), ("b", "2") }, request.Metadata.Select(kv => (kv.Key, kv.Value)).Order());

        await SendAsync(Frames.Response(header.StreamId, "y"));
        Assert.Equal("y", await call);
    }

    [Fact]
    public async Task NoTimeout_SendsZeroTimeoutNano()
    {
        var call = _client.EchoAsync("Echo", "x");

        var (header, request) = await ReceiveAsync();
        Assert.Equal(0, request.TimeoutNano);
        await SendAsync(Frames.Response(header.StreamId, "y"));
        await call;
    }

    [Fact]
    public async Task ErrorStatus_BecomesTtrpcException()
    {
        var call = _client.EchoAsync("Echo", "x");
        var (header, _) = await ReceiveAsync();

        var response = new Response { Status = new Status { Code = (int)StatusCode.PermissionDenied, Message = "nope" } };
        await SendAsync(FrameWriter.Encode(header.StreamId, MessageType.Response, FrameFlags.None, response));

        var error = await Assert.ThrowsAsync<TtrpcException>(() => call);
        Assert.Equal(StatusCode.PermissionDenied, error.Code);
        Assert.Equal("nope", error.Message);
    }

    [Fact]
    public async Task AnErrorMessageFromThePeer_IsOneEscapedBoundedLine()
    {
        var call = _client.EchoAsync("Echo", "x");
        var (header, _) = await ReceiveAsync();
        var hostile = "line one\nFAKE LOG LINE\u001b[31m" + new string('x', 100_000);
        var response = new Response { Status = new Status { Code = (int)StatusCode.Internal, Message = hostile } };
        await SendAsync(FrameWriter.Encode(header.StreamId, MessageType.Response, FrameFlags.None, response));

        var error = await Assert.ThrowsAsync<TtrpcException>(() => call);
        Assert.StartsWith("line one\\x0aFAKE LOG LINE\\x1b[31mxxx", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.True(error.Message.Length <= TtrpcClient.MaxPeerMessage + 3, $"{error.Message.Length} characters");
    }

    [Fact]
    public async Task ResponseWithoutStatus_IsOk()
    {
        var call = _client.EchoAsync("Echo", "x");
        var (header, _) = await ReceiveAsync();

        var response = new Response { Payload = new StringValue { Value = "bare" }.ToByteString() };
        await SendAsync(FrameWriter.Encode(header.StreamId, MessageType.Response, FrameFlags.None, response));

        Assert.Equal("bare", await call);
    }

    [Fact]
    public async Task ResponseForUnknownStream_ClosesConnectionAndLogs()
    {
        var pending = _client.EchoAsync("Echo", "x");
        await ReceiveAsync();

        await SendAsync(Frames.Response(99, "who?"));

        await _client.Completion.WaitAsync(Limit);
        var error = await Assert.ThrowsAsync<TtrpcException>(() => pending);
        Assert.Equal(StatusCode.Unavailable, error.Code);
        Assert.Contains("response for unknown stream 99", ClientLogs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LateResponseAfterTimeout_IsIgnored()
    {
        var timedOut = _client.EchoAsync("Echo", "x", new CallOptions { Timeout = TimeSpan.FromMilliseconds(50) });
        var (header, _) = await ReceiveAsync();
        var error = await Assert.ThrowsAsync<TtrpcException>(() => timedOut);
        Assert.Equal(StatusCode.DeadlineExceeded, error.Code);

        await SendAsync(Frames.Response(header.StreamId, "late"));
        var next = _client.EchoAsync("Echo", "x");
        var (nextHeader, _) = await ReceiveAsync();
        await SendAsync(Frames.Response(nextHeader.StreamId, "fresh"));

        Assert.Equal("fresh", await next);
        Assert.False(_client.Completion.IsCompleted);
        Assert.Contains($"late response on stream {header.StreamId}", ClientLogs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASecondLateResponseOnTheSameStream_ClosesTheConnection()
    {
        var timedOut = _client.EchoAsync("Echo", "x", new CallOptions { Timeout = TimeSpan.FromMilliseconds(50) });
        var (header, _) = await ReceiveAsync();
        await Assert.ThrowsAsync<TtrpcException>(() => timedOut);

        // A hostile peer replaying replies to a call that gave up: one is dropped, the next is a violation.
        await SendAsync(Frames.Concat(Frames.Response(header.StreamId, "late"), Frames.Response(header.StreamId, "again")));
        await _client.Completion.WaitAsync(Limit);
        Assert.Contains($"response on stream {header.StreamId}", ClientLogs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AReplyToACompletedCall_ClosesTheConnection()
    {
        var call = _client.EchoAsync("Echo", "x");
        var (header, _) = await ReceiveAsync();
        await SendAsync(Frames.Response(header.StreamId, "y"));
        Assert.Equal("y", await call);

        await SendAsync(Frames.Response(header.StreamId, "y again"));
        await _client.Completion.WaitAsync(Limit);
        Assert.Contains($"unexpected response on stream {header.StreamId}", ClientLogs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DataFrames_CloseTheConnectionRatherThanPileUp()
    {
        var pending = _client.EchoAsync("Echo", "x");
        await ReceiveAsync();

        await SendAsync(Frames.Raw(2, 7, 3, 1, [1, 2]));

        await _client.Completion.WaitAsync(Limit);
        var error = await Assert.ThrowsAsync<TtrpcException>(() => pending);
        Assert.Equal(StatusCode.Unavailable, error.Code);
        Assert.Contains("unexpected data frame on stream 7", ClientLogs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GarbageHeaderFromServer_ClosesClient()
    {
        var pending = _client.EchoAsync("Echo", "x");
        await ReceiveAsync();

        await SendAsync(Frames.Raw(0x7fffffff, 1, 2, 0));

        await _client.Completion.WaitAsync(Limit);
        var error = await Assert.ThrowsAsync<TtrpcException>(() => pending);
        Assert.Equal(StatusCode.Unavailable, error.Code);
        Assert.Contains("exceeds the maximum", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerEndOfStream_CompletesClient()
    {
        var pending = _client.EchoAsync("Echo", "x");
        await ReceiveAsync();

        await _toClient.DisposeAsync();

        await _client.Completion.WaitAsync(Limit);
        var error = await Assert.ThrowsAsync<TtrpcException>(() => pending);
        Assert.Equal(StatusCode.Unavailable, error.Code);
    }
}
