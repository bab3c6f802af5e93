using Moat.Ttrpc;

namespace Moat.Protocols.Agent;

/// <summary>What the guest agent implements; bound to a <see cref="TtrpcServer"/> by <see cref="AgentServiceBinder"/>.</summary>
public interface IAgentService
{
    Task<CheckResponse> Check(CheckRequest request, TtrpcCallContext context);
    Task<GuestDetailsResponse> GetGuestDetails(GetGuestDetailsRequest request, TtrpcCallContext context);
    Task<Empty> CreateSandbox(CreateSandboxRequest request, TtrpcCallContext context);
    Task<Empty> DestroySandbox(DestroySandboxRequest request, TtrpcCallContext context);
    Task<Empty> CreateContainer(CreateContainerRequest request, TtrpcCallContext context);
    Task<StartContainerResponse> StartContainer(StartContainerRequest request, TtrpcCallContext context);
    Task<Empty> RemoveContainer(RemoveContainerRequest request, TtrpcCallContext context);
    Task<ExecProcessResponse> ExecProcess(ExecProcessRequest request, TtrpcCallContext context);
    Task<Empty> SignalProcess(SignalProcessRequest request, TtrpcCallContext context);
    Task<WaitProcessResponse> WaitProcess(WaitProcessRequest request, TtrpcCallContext context);
    Task<WriteStreamResponse> WriteStdin(WriteStreamRequest request, TtrpcCallContext context);
    Task<ReadStreamResponse> ReadStdout(ReadStreamRequest request, TtrpcCallContext context);
    Task<ReadStreamResponse> ReadStderr(ReadStreamRequest request, TtrpcCallContext context);
    Task<Empty> CloseStdin(CloseStdinRequest request, TtrpcCallContext context);
    Task<Empty> TtyWinResize(TtyWinResizeRequest request, TtrpcCallContext context);
    Task<StatsContainerResponse> StatsContainer(StatsContainerRequest request, TtrpcCallContext context);
    Task<Empty> ConfigureNetwork(ConfigureNetworkRequest request, TtrpcCallContext context);

    Task<Empty> PauseContainer(PauseContainerRequest request, TtrpcCallContext context);

    Task<Empty> ResumeContainer(ResumeContainerRequest request, TtrpcCallContext context);

    Task<Empty> UpdateContainer(UpdateContainerRequest request, TtrpcCallContext context);
    Task<OOMEvent> GetOOMEvent(GetOOMEventRequest request, TtrpcCallContext context);
    Task<OnlineCpusResponse> OnlineCpus(OnlineCpusRequest request, TtrpcCallContext context);
    Task<GuestMetricsResponse> GuestMetrics(GuestMetricsRequest request, TtrpcCallContext context);
    Task<PortForwardOpenResponse> PortForwardOpen(PortForwardOpenRequest request, TtrpcCallContext context);
    Task<Empty> PortForwardWrite(PortForwardWriteRequest request, TtrpcCallContext context);
    Task<ReadStreamResponse> PortForwardRead(PortForwardReadRequest request, TtrpcCallContext context);
    Task<Empty> PortForwardClose(PortForwardCloseRequest request, TtrpcCallContext context);
}
