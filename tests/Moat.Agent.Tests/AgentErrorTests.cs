using Moat.Ttrpc;

namespace Moat.Agent.Tests;

/// <summary>The agent's domain errors and the one place they become the statuses the host reads.</summary>
public sealed class AgentErrorTests
{
    [Theory]
    [InlineData(AgentErrorKind.InvalidArgument, StatusCode.InvalidArgument)]
    [InlineData(AgentErrorKind.NotFound, StatusCode.NotFound)]
    [InlineData(AgentErrorKind.AlreadyExists, StatusCode.AlreadyExists)]
    [InlineData(AgentErrorKind.FailedPrecondition, StatusCode.FailedPrecondition)]
    [InlineData(AgentErrorKind.Timeout, StatusCode.DeadlineExceeded)]
    [InlineData(AgentErrorKind.Internal, StatusCode.Internal)]
    internal void EachKindHasItsStatusAndKeepsItsMessage(AgentErrorKind kind, StatusCode code)
    {
        var t = AgentException.StatusFor(new AgentException(kind, "container c1 not found"));
        Assert.NotNull(t);
        Assert.Equal(code, t.Code);
        Assert.Equal("container c1 not found", t.Message);
    }

    [Fact]
    public void AnUnexpectedErrorIsLeftToTheServer() =>
        Assert.Null(AgentException.StatusFor(new IOException("disk")));

    [Fact]
    public async Task TheServerAnswersAHandlersAgentErrorWithItsStatus()
    {
        var server = new TtrpcServer(null, AgentException.StatusFor);
        server.AddUnary<Google.Protobuf.WellKnownTypes.Empty, Google.Protobuf.WellKnownTypes.Empty>("svc", "M", Google.Protobuf.WellKnownTypes.Empty.Parser,
            (_, _) => throw new AgentException(AgentErrorKind.FailedPrecondition, "container c1 is not running"));
        var toServer = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out);
        var toClient = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out);
        using var stop = new CancellationTokenSource();
        var serving = server.ServeAsync(new System.IO.Pipes.AnonymousPipeClientStream(System.IO.Pipes.PipeDirection.In, toServer.ClientSafePipeHandle), toClient, stop.Token);
        await using (var client = new TtrpcClient(new System.IO.Pipes.AnonymousPipeClientStream(System.IO.Pipes.PipeDirection.In, toClient.ClientSafePipeHandle), toServer))
        {
            var e = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync("svc", "M", new Google.Protobuf.WellKnownTypes.Empty(), Google.Protobuf.WellKnownTypes.Empty.Parser, null, CancellationToken.None));
            Assert.Equal(StatusCode.FailedPrecondition, e.Code);
            Assert.Equal("container c1 is not running", e.Message);
        }
        await stop.CancelAsync();
        await serving;
    }
}
