using System.IO.Pipes;
using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Runtime.Tests;

/// <summary>
/// The edge between the agent's wire API and the runtime: a status the agent answers with
/// becomes an <see cref="AgentException"/> of the matching kind, its text made safe, and the
/// answers come back as the runtime's own values. Served by a real ttrpc server over pipes.
/// </summary>
public sealed class GuestAgentTests : IAsyncLifetime
{
    private readonly TtrpcServer _server = new();
    private readonly CancellationTokenSource _stop = new();
    private AgentClient? _client;
    private Task? _serving;

    private async Task<GuestAgent> ConnectAsync()
    {
        var toServer = new AnonymousPipeServerStream(PipeDirection.Out);
        var serverIn = new AnonymousPipeClientStream(PipeDirection.In, toServer.ClientSafePipeHandle);
        var toClient = new AnonymousPipeServerStream(PipeDirection.Out);
        var clientIn = new AnonymousPipeClientStream(PipeDirection.In, toClient.ClientSafePipeHandle);
        _serving = _server.ServeAsync(serverIn, toClient, _stop.Token);
        _client = new AgentClient(new TtrpcClient(clientIn, toServer));
        await Task.Yield();
        return new GuestAgent(_client);
    }

    private void Answer<TRequest, TResponse>(string method, Google.Protobuf.MessageParser<TRequest> parser, Func<TRequest, TResponse> answer)
        where TRequest : Google.Protobuf.IMessage<TRequest>
        where TResponse : Google.Protobuf.IMessage<TResponse> =>
        _server.AddUnary<TRequest, TResponse>(AgentClient.ServiceName, method, parser, (r, _) => Task.FromResult(answer(r)));

    [Theory]
    [InlineData(StatusCode.NotFound, RuntimeErrorKind.NotFound)]
    [InlineData(StatusCode.InvalidArgument, RuntimeErrorKind.InvalidArgument)]
    [InlineData(StatusCode.AlreadyExists, RuntimeErrorKind.AlreadyExists)]
    [InlineData(StatusCode.FailedPrecondition, RuntimeErrorKind.FailedPrecondition)]
    [InlineData(StatusCode.DeadlineExceeded, RuntimeErrorKind.Timeout)]
    [InlineData(StatusCode.Unavailable, RuntimeErrorKind.GuestFailure)]
    [InlineData(StatusCode.Internal, RuntimeErrorKind.Internal)]
    [InlineData(StatusCode.PermissionDenied, RuntimeErrorKind.Internal)]
    public async Task AnAgentStatusBecomesAnErrorOfThatKind(StatusCode code, RuntimeErrorKind kind)
    {
        Answer<StartContainerRequest, StartContainerResponse>("StartContainer", StartContainerRequest.Parser,
            r => throw new TtrpcException(code, $"container {r.ContainerId}: refused"));
        var guest = await ConnectAsync();
        var e = await Assert.ThrowsAsync<AgentException>(() => guest.StartAsync("c1", CancellationToken.None));
        Assert.Equal(kind, e.Kind);
        Assert.Equal("container c1: refused", e.Message);
        Assert.Same(e, e.About("c1"));
        Assert.Equal("container c2: container c1: refused", e.About("c2").Message);
    }

    [Fact]
    public async Task AHostileAgentsMessageArrivesAsOneShortEscapedLine()
    {
        var forged = "ok\n\u001b[2Jmoat: container deleted\r" + new string('x', 100_000);
        Answer<WaitProcessRequest, WaitProcessResponse>("WaitProcess", WaitProcessRequest.Parser, _ => throw new TtrpcException(StatusCode.Internal, forged));
        var guest = await ConnectAsync();
        var e = await Assert.ThrowsAsync<AgentException>(() => guest.WaitAsync("c1", "", CancellationToken.None));
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        Assert.DoesNotContain('\u001b', e.Message);
        Assert.StartsWith("ok\\x0a\\x1b[2J", e.Message);
        Assert.True(e.Message.Length <= 510, $"{e.Message.Length} characters");
    }

    [Fact]
    public async Task AnswersComeBackAsTheRuntimesValues()
    {
        Answer<ExecProcessRequest, ExecProcessResponse>("ExecProcess", ExecProcessRequest.Parser, r =>
        {
            Assert.Equal("{\"args\":[\"true\"]}", r.ProcessJson.ToStringUtf8());
            Assert.True(r.Stdin);
            return new ExecProcessResponse { Pid = 42 };
        });
        Answer<ReadStreamRequest, ReadStreamResponse>("ReadStderr", ReadStreamRequest.Parser, r =>
            new ReadStreamResponse { Data = Google.Protobuf.ByteString.CopyFromUtf8($"{r.ContainerId}/{r.ExecId}/{r.Len}"), Eof = true });
        Answer<StatsContainerRequest, StatsContainerResponse>("StatsContainer", StatsContainerRequest.Parser, _ =>
            new StatsContainerResponse { CgroupFiles = { ["memory.current"] = "4096" } });
        Answer<CreateContainerRequest, Moat.Protocols.Agent.Empty>("CreateContainer", CreateContainerRequest.Parser, r =>
        {
            // A pod member's joins travel as their own field, never as an annotation a spec could carry.
            Assert.Equal(["pid:pause", "ipc:pause"], r.JoinNamespaces.Select(j => $"{j.Type}:{j.ContainerId}"));
            Assert.Equal("1.1.0", (string?)System.Text.Json.Nodes.JsonNode.Parse(r.OciSpecJson.ToStringUtf8())!["ociVersion"]);
            return new Moat.Protocols.Agent.Empty();
        });
        var guest = await ConnectAsync();
        await guest.CreateContainerAsync("app", new Moat.Oci.Spec { OciVersion = "1.1.0" }, stdin: false,
            [new NamespaceJoin("pid", "pause"), new NamespaceJoin("ipc", "pause")], CancellationToken.None);
        Assert.Equal(42, await guest.ExecAsync("c1", "e1", "{\"args\":[\"true\"]}"u8.ToArray(), stdin: true, CancellationToken.None));
        var output = await guest.ReadOutputAsync("c1", "e1", stderr: true, 7, CancellationToken.None);
        Assert.True(output.Eof);
        Assert.Equal("c1/e1/7", System.Text.Encoding.UTF8.GetString(output.Data.Span));
        Assert.Equal("4096", (await guest.StatsAsync("c1", CancellationToken.None))["memory.current"]);
    }

    [Fact]
    public async Task APortForwardReadLongerThanAskedIsRefused()
    {
        Answer<PortForwardReadRequest, ReadStreamResponse>("PortForwardRead", PortForwardReadRequest.Parser, r =>
            new ReadStreamResponse { Data = Google.Protobuf.ByteString.CopyFrom(new byte[r.Len + (r.StreamId == 2 ? 1u : 0u)]) });
        var guest = await ConnectAsync();
        Assert.Equal(16, (await ((IGuestPorts)guest).ReadAsync(1, 16, CancellationToken.None)).Data.Length);
        var e = await Assert.ThrowsAsync<AgentException>(() => ((IGuestPorts)guest).ReadAsync(2, 16, CancellationToken.None));
        Assert.Equal(RuntimeErrorKind.GuestFailure, e.Kind);
        Assert.Contains("17 bytes of port-forward stream 2", e.Message, StringComparison.Ordinal);
    }

    // xunit 2 disposes a test class through IAsyncLifetime (IAsyncDisposable alone is never called).
    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
        await _stop.CancelAsync();
        if (_serving is not null)
        {
            await _serving;
        }
        _stop.Dispose();
    }
}
