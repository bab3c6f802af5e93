using System.Collections.Concurrent;
using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Fuzz.Targets;

/// <summary>
/// ttrpc, server side (the guest agent's, and any Moat ttrpc server): the input is the raw byte
/// stream a client sends. The connection must close only for the reasons it documents
/// (<see cref="InvalidDataException"/> for a bad frame or request, <see cref="EndOfStreamException"/>
/// at the end), and every request payload the agent binding parses must end in a status, never
/// in a handler failure.
/// </summary>
internal sealed class TtrpcServerTarget : FuzzTarget
{
    private static readonly TtrpcServer Server = CreateServer();

    public override string Name => "ttrpc-server";

    public override string Description =>
        "raw client bytes -> FrameReader/FrameHeader, Request protobuf, agent service binding; closes with InvalidDataException or EndOfStreamException";

    protected override void Execute(byte[] input) => RunAsync(async () =>
    {
        var log = new ConcurrentQueue<string>();
        var connection = new ServerConnection(Server.Methods, new InputStream(input), new SinkStream(), log.Enqueue, "fuzz");
        await connection.RunAsync(CancellationToken.None);
        if (connection.AbortReason is not (InvalidDataException or EndOfStreamException))
        {
            throw new FuzzContractException("the server connection closed for an undocumented reason", connection.AbortReason);
        }

        // A handler that failed (rather than answering with a status) logs "handler ... failed".
        await SettleAsync();
        if (log.FirstOrDefault(l => l.Contains(": handler ", StringComparison.Ordinal)) is { } failure)
        {
            throw new FuzzContractException(failure);
        }
    });

    protected override bool IsRejection(Exception e) => false;

    private static TtrpcServer CreateServer()
    {
        var server = new TtrpcServer();
        AgentServiceBinder.Bind(server, new NullAgent());
        return server;
    }

    /// <summary>An agent that answers every call with an empty reply: only the parsing is under test.</summary>
    private sealed class NullAgent : IAgentService
    {
        public Task<CheckResponse> Check(CheckRequest request, TtrpcCallContext context) => Task.FromResult(new CheckResponse { Serving = true });
        public Task<GuestDetailsResponse> GetGuestDetails(GetGuestDetailsRequest request, TtrpcCallContext context) => Task.FromResult(new GuestDetailsResponse());
        public Task<Empty> CreateSandbox(CreateSandboxRequest request, TtrpcCallContext context) => Done;
        public Task<Empty> DestroySandbox(DestroySandboxRequest request, TtrpcCallContext context) => Done;
        public Task<Empty> CreateContainer(CreateContainerRequest request, TtrpcCallContext context) => Done;
        public Task<StartContainerResponse> StartContainer(StartContainerRequest request, TtrpcCallContext context) => Task.FromResult(new StartContainerResponse());
        public Task<Empty> RemoveContainer(RemoveContainerRequest request, TtrpcCallContext context) => Done;
        public Task<ExecProcessResponse> ExecProcess(ExecProcessRequest request, TtrpcCallContext context) => Task.FromResult(new ExecProcessResponse());
        public Task<Empty> SignalProcess(SignalProcessRequest request, TtrpcCallContext context) => Done;
        public Task<WaitProcessResponse> WaitProcess(WaitProcessRequest request, TtrpcCallContext context) => Task.FromResult(new WaitProcessResponse());
        public Task<WriteStreamResponse> WriteStdin(WriteStreamRequest request, TtrpcCallContext context) => Task.FromResult(new WriteStreamResponse { Len = (uint)request.Data.Length });
        public Task<ReadStreamResponse> ReadStdout(ReadStreamRequest request, TtrpcCallContext context) => Task.FromResult(new ReadStreamResponse { Eof = true });
        public Task<ReadStreamResponse> ReadStderr(ReadStreamRequest request, TtrpcCallContext context) => Task.FromResult(new ReadStreamResponse { Eof = true });
        public Task<Empty> CloseStdin(CloseStdinRequest request, TtrpcCallContext context) => Done;
        public Task<Empty> TtyWinResize(TtyWinResizeRequest request, TtrpcCallContext context) => Done;
        public Task<StatsContainerResponse> StatsContainer(StatsContainerRequest request, TtrpcCallContext context) => Task.FromResult(new StatsContainerResponse());
        public Task<Empty> ConfigureNetwork(ConfigureNetworkRequest request, TtrpcCallContext context) => Done;
        public Task<Empty> PauseContainer(PauseContainerRequest request, TtrpcCallContext context) => Done;
        public Task<Empty> ResumeContainer(ResumeContainerRequest request, TtrpcCallContext context) => Done;
        public Task<Empty> UpdateContainer(UpdateContainerRequest request, TtrpcCallContext context) => Done;
        public Task<OOMEvent> GetOOMEvent(GetOOMEventRequest request, TtrpcCallContext context) => Task.FromResult(new OOMEvent());
        public Task<OnlineCpusResponse> OnlineCpus(OnlineCpusRequest request, TtrpcCallContext context) => Task.FromResult(new OnlineCpusResponse { OnlineCpus = request.Count });
        public Task<GuestMetricsResponse> GuestMetrics(GuestMetricsRequest request, TtrpcCallContext context) => Task.FromResult(new GuestMetricsResponse());
        public Task<PortForwardOpenResponse> PortForwardOpen(PortForwardOpenRequest request, TtrpcCallContext context) => Task.FromResult(new PortForwardOpenResponse { StreamId = 1 });
        public Task<Empty> PortForwardWrite(PortForwardWriteRequest request, TtrpcCallContext context) => Done;
        public Task<ReadStreamResponse> PortForwardRead(PortForwardReadRequest request, TtrpcCallContext context) => Task.FromResult(new ReadStreamResponse { Eof = true });
        public Task<Empty> PortForwardClose(PortForwardCloseRequest request, TtrpcCallContext context) => Done;

        private static Task<Empty> Done => Task.FromResult(new Empty());
    }
}
