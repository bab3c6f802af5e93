using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Moat.Ttrpc.Protocol;

namespace Moat.Ttrpc.Tests;

/// <summary>A hand-written client speaking raw frames to a real server.</summary>
public sealed class RawClientTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = Extensions.Limit;

    private readonly TestServer _server = new();
    private readonly CancellationTokenSource _serverStop = new();
    private Stream _toServer = null!;
    private Stream _clientIn = null!;
    private FrameReader _fromServer = null!;
    private Task _serving = null!;

    public Task InitializeAsync()
    {
        var (clientIn, clientOut, serverIn, serverOut) = TestStreams.CreatePipePair();
        _toServer = clientOut;
        _clientIn = clientIn;
        _fromServer = new FrameReader(clientIn);
        _serving = _server.Server.ServeAsync(serverIn, serverOut, _serverStop.Token);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _toServer.DisposeAsync();
        await _serverStop.CancelAsync();
        await _serving.WaitAsync(Limit);
        _serverStop.Dispose();
    }

    private async Task SendAsync(byte[] bytes)
    {
        await _toServer.WriteAsync(bytes);
        await _toServer.FlushAsync();
    }

    private async Task<(FrameHeader Header, Response Response)> ReceiveAsync()
    {
        var frame = await _fromServer.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Limit);
        Assert.NotNull(frame);
        return (frame.Value.Header, Response.Parser.ParseFrom(frame.Value.Data));
    }

    private async Task AssertServerClosedAsync(string expectedLog)
    {
        await _serving.WaitAsync(Limit);
        Assert.Null(await _fromServer.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Limit));
        Assert.Contains(_server.Logs, l => l.Contains(expectedLog, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ClientTakingOverAConnection_ContinuesAfterTheIdsTheServerSaw()
    {
        // What a VM restored from a template sees: its agent's connection already served ids 1 and 3.
        await SendAsync(Frames.Concat(
            Frames.Request(1, TestServer.Service, "Echo", "one"),
            Frames.Request(3, TestServer.Service, "Echo", "two")));
        await ReceiveAsync();
        await ReceiveAsync();

        await using var client = new TtrpcClient(_clientIn, _toServer);
        var reused = await Assert.ThrowsAsync<TtrpcException>(() => client.EchoAsync("Echo", "fresh"));
        Assert.Equal(StatusCode.InvalidArgument, reused.Code);

        client.ContinueAfter(3);
        client.ContinueAfter(1); // never goes back
        Assert.Equal("continued", await client.EchoAsync("Echo", "continued"));
        Assert.Equal(5u, client.LastStreamId);
        Assert.Throws<ArgumentOutOfRangeException>(() => client.ContinueAfter(8));
    }

    [Fact]
    public async Task TwoRequestsInOneWrite_GetTwoResponses()
    {
        await SendAsync(Frames.Concat(
            Frames.Request(1, TestServer.Service, "Echo", "one"),
            Frames.Request(3, TestServer.Service, "Echo", "two")));

        var answers = new Dictionary<uint, string>();
        for (var i = 0; i < 2; i++)
        {
            var (header, response) = await ReceiveAsync();
            Assert.Equal(MessageType.Response, header.Type);
            Assert.Equal(0, response.Status.Code);
            answers[header.StreamId] = StringValue.Parser.ParseFrom(response.Payload).Value;
        }

        Assert.Equal("one", answers[1]);
        Assert.Equal("two", answers[3]);
    }

    [Fact]
    public async Task RequestWrittenOneByteAtATime_IsServed()
    {
        foreach (var b in Frames.Request(1, TestServer.Service, "Echo", "trickle"))
        {
            await SendAsync([b]);
        }

        var (header, response) = await ReceiveAsync();
        Assert.Equal(1u, header.StreamId);
        Assert.Equal("trickle", StringValue.Parser.ParseFrom(response.Payload).Value);
    }

    [Fact]
    public async Task UnknownFrameType_ClosesConnectionAndLogs()
    {
        await SendAsync(Frames.Raw(0, 1, 0x09, 0));

        await AssertServerClosedAsync("unknown frame type 0x09");
    }

    [Fact]
    public async Task OversizeLength_ClosesConnectionAndLogs()
    {
        await SendAsync(Frames.Raw(0x7fffffff, 1, 1, 0));

        await AssertServerClosedAsync("exceeds the maximum");
    }

    [Fact]
    public async Task UnparsableRequest_ClosesConnectionAndLogs()
    {
        await SendAsync(Frames.Raw(3, 1, 1, 0, [0xff, 0xff, 0xff]));

        await AssertServerClosedAsync("malformed request on stream 1");
    }

    [Fact]
    public async Task ResponseFrameFromClient_ClosesConnection()
    {
        await SendAsync(Frames.Response(1, "x"));

        await AssertServerClosedAsync("unexpected Response frame");
    }

    [Fact]
    public async Task DataFrame_IsIgnoredWithLog_AndConnectionStaysOpen()
    {
        await SendAsync(Frames.Raw(2, 1, 3, 1, [1, 2]));
        await SendAsync(Frames.Request(3, TestServer.Service, "Echo", "after data"));

        var (header, response) = await ReceiveAsync();
        Assert.Equal(3u, header.StreamId);
        Assert.Equal("after data", StringValue.Parser.ParseFrom(response.Payload).Value);
        Assert.Contains(_server.Logs, l => l.Contains("ignoring data frame on stream 1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EvenOrReusedStreamId_IsInvalidArgument()
    {
        await SendAsync(Frames.Request(2, TestServer.Service, "Echo", "even"));
        var (even, evenResponse) = await ReceiveAsync();
        Assert.Equal(2u, even.StreamId);
        Assert.Equal((int)StatusCode.InvalidArgument, evenResponse.Status.Code);

        await SendAsync(Frames.Request(5, TestServer.Service, "Echo", "ok"));
        Assert.Equal(0, (await ReceiveAsync()).Response.Status.Code);

        await SendAsync(Frames.Request(3, TestServer.Service, "Echo", "reused"));
        var (reused, reusedResponse) = await ReceiveAsync();
        Assert.Equal(3u, reused.StreamId);
        Assert.Equal((int)StatusCode.InvalidArgument, reusedResponse.Status.Code);
    }

    [Fact]
    public async Task StreamingRequest_IsUnimplemented()
    {
        await SendAsync(Frames.Request(1, TestServer.Service, "Echo", "x", FrameFlags.RemoteOpen));

        var (_, response) = await ReceiveAsync();
        Assert.Equal((int)StatusCode.Unimplemented, response.Status.Code);
    }

    [Fact]
    public async Task TimeoutNano_CancelsHandlerToken()
    {
        var request = new Request
        {
            Service = TestServer.Service,
            Method = "Block",
            Payload = new StringValue { Value = "x" }.ToByteString(),
            TimeoutNano = 100_000_000,
        };
        await SendAsync(FrameWriter.Encode(1, MessageType.Request, FrameFlags.None, request));

        var (_, response) = await ReceiveAsync();
        Assert.Equal((int)StatusCode.DeadlineExceeded, response.Status.Code);
        await _server.BlockCancelled.Task.WaitAsync(Limit);
    }

    [Fact]
    public async Task SuccessfulResponse_CarriesOkStatus()
    {
        await SendAsync(Frames.Request(1, TestServer.Service, "Echo", "x"));

        var (header, response) = await ReceiveAsync();
        Assert.Equal(FrameFlags.None, header.Flags);
        Assert.NotNull(response.Status);
        Assert.Equal(0, response.Status.Code);
    }
}
