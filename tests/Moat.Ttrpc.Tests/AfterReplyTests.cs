using Google.Protobuf.WellKnownTypes;

namespace Moat.Ttrpc.Tests;

/// <summary>
/// <see cref="TtrpcCallContext.AfterReply"/>: what a handler that stops its own server (a shim's
/// Shutdown) needs so that its caller still hears the reply, with no delay guessed at.
/// </summary>
public sealed class AfterReplyTests
{
    private static readonly TimeSpan Limit = Extensions.Limit;

    private static (TtrpcServer Server, TtrpcClient Client, Task Serving, CancellationTokenSource Stop) Start(
        Func<StringValue, TtrpcCallContext, CancellationTokenSource, Task<StringValue>> handler)
    {
        var stop = new CancellationTokenSource();
        var server = new TtrpcServer();
        server.AddUnary<StringValue, StringValue>(TestServer.Service, "Stop", StringValue.Parser, (r, c) => handler(r, c, stop));
        var (clientIn, clientOut, serverIn, serverOut) = TestStreams.CreatePipePair();
        var serving = server.ServeAsync(serverIn, serverOut, stop.Token);
        return (server, new TtrpcClient(clientIn, clientOut), serving, stop);
    }

    [Fact]
    public async Task AServerStoppedAfterTheReplyStillSendsIt()
    {
        var (_, client, serving, stop) = Start((r, c, s) =>
        {
            c.AfterReply(s.Cancel);
            return Task.FromResult(new StringValue { Value = "bye " + r.Value });
        });
        await using (client)
        {
            Assert.Equal("bye now", await client.EchoAsync("Stop", "now"));
            await serving.WaitAsync(Limit); // and the server did stop
            Assert.True(stop.IsCancellationRequested);
        }
    }

    [Fact]
    public async Task AServerStoppedInsideTheHandlerLosesTheReply()
    {
        // Why AfterReply exists: stopping the server before returning closes the connection first.
        var (_, client, serving, _) = Start((r, _, s) =>
        {
            s.Cancel();
            return Task.FromResult(new StringValue { Value = "bye " + r.Value });
        });
        await using (client)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => client.EchoAsync("Stop", "now"));
            await serving.WaitAsync(Limit);
        }
    }

    [Fact]
    public async Task TheActionRunsWhenTheCallerLeftBeforeTheReply()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (_, client, serving, stop) = Start(async (r, c, _) =>
        {
            entered.TrySetResult();
            try
            {
                await Task.Delay(Limit, c.CancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
            c.AfterReply(() => ran.TrySetResult());
            return r;
        });
        var call = client.EchoAsync("Stop", "x");
        await entered.Task.WaitAsync(Limit);
        await client.DisposeAsync(); // the connection closes with the call in flight
        await Assert.ThrowsAnyAsync<Exception>(() => call);
        await ran.Task.WaitAsync(Limit);
        await stop.CancelAsync();
        await serving.WaitAsync(Limit);
    }
}
