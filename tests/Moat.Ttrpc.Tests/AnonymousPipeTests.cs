using System.IO.Pipes;

namespace Moat.Ttrpc.Tests;

/// <summary>Separate input/output streams, like a guest char device opened once per direction.</summary>
public sealed class AnonymousPipeTests
{
    private static readonly TimeSpan Limit = Extensions.Limit;

    [Fact]
    public async Task ClientAndServer_OverTwoAnonymousPipes()
    {
        using var toServerWrite = new AnonymousPipeServerStream(PipeDirection.Out);
        using var toServerRead = new AnonymousPipeClientStream(PipeDirection.In, toServerWrite.ClientSafePipeHandle);
        using var toClientWrite = new AnonymousPipeServerStream(PipeDirection.Out);
        using var toClientRead = new AnonymousPipeClientStream(PipeDirection.In, toClientWrite.ClientSafePipeHandle);

        var server = new TestServer();
        var serving = server.Server.ServeAsync(toServerRead, toClientWrite, CancellationToken.None);
        var client = new TtrpcClient(toClientRead, toServerWrite);

        Assert.Equal("over pipes", await client.EchoAsync("Echo", "over pipes"));
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => client.EchoAsync("Echo", $"p{i}")));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"p{i}"), results);
        var error = await Assert.ThrowsAsync<TtrpcException>(() => client.EchoAsync("NotFound", "x"));
        Assert.Equal(StatusCode.NotFound, error.Code);

        // Closing the client's write side is end of stream for the server, which then closes its side.
        await client.DisposeAsync();
        await serving.WaitAsync(Limit);
        Assert.Contains(server.Logs, l => l.Contains("connection closed by peer", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ServerStop_FailsPendingCall_OverAnonymousPipes()
    {
        using var toServerWrite = new AnonymousPipeServerStream(PipeDirection.Out);
        using var toServerRead = new AnonymousPipeClientStream(PipeDirection.In, toServerWrite.ClientSafePipeHandle);
        using var toClientWrite = new AnonymousPipeServerStream(PipeDirection.Out);
        using var toClientRead = new AnonymousPipeClientStream(PipeDirection.In, toClientWrite.ClientSafePipeHandle);

        var server = new TestServer();
        using var stop = new CancellationTokenSource();
        var serving = server.Server.ServeAsync(toServerRead, toClientWrite, stop.Token);
        await using var client = new TtrpcClient(toClientRead, toServerWrite);

        var call = client.EchoAsync("Block", "x");
        await server.BlockStarted.Task.WaitAsync(Limit);
        await stop.CancelAsync();

        var error = await Assert.ThrowsAsync<TtrpcException>(() => call);
        Assert.Equal(StatusCode.Unavailable, error.Code);
        await serving.WaitAsync(Limit);
        await client.Completion.WaitAsync(Limit);
    }
}
