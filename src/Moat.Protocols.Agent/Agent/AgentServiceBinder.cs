using Moat.Ttrpc;

namespace Moat.Protocols.Agent;

public static class AgentServiceBinder
{
    public static void Bind(TtrpcServer server, IAgentService s)
    {
        const string n = AgentClient.ServiceName;
        server.AddUnary<CheckRequest, CheckResponse>(n, "Check", CheckRequest.Parser, s.Check);
        server.AddUnary<GetGuestDetailsRequest, GuestDetailsResponse>(n, "GetGuestDetails", GetGuestDetailsRequest.Parser, s.GetGuestDetails);
        server.AddUnary<CreateSandboxRequest, Empty>(n, "CreateSandbox", CreateSandboxRequest.Parser, s.CreateSandbox);
        server.AddUnary<DestroySandboxRequest, Empty>(n, "DestroySandbox", DestroySandboxRequest.Parser, s.DestroySandbox);
        server.AddUnary<CreateContainerRequest, Empty>(n, "CreateContainer", CreateContainerRequest.Parser, s.CreateContainer);
        server.AddUnary<StartContainerRequest, StartContainerResponse>(n, "StartContainer", StartContainerRequest.Parser, s.StartContainer);
        server.AddUnary<RemoveContainerRequest, Empty>(n, "RemoveContainer", RemoveContainerRequest.Parser, s.RemoveContainer);
        server.AddUnary<ExecProcessRequest, ExecProcessResponse>(n, "ExecProcess", ExecProcessRequest.Parser, s.ExecProcess);
        server.AddUnary<SignalProcessRequest, Empty>(n, "SignalProcess", SignalProcessRequest.Parser, s.SignalProcess);
        server.AddUnary<WaitProcessRequest, WaitProcessResponse>(n, "WaitProcess", WaitProcessRequest.Parser, s.WaitProcess);
        server.AddUnary<WriteStreamRequest, WriteStreamResponse>(n, "WriteStdin", WriteStreamRequest.Parser, s.WriteStdin);
        server.AddUnary<ReadStreamRequest, ReadStreamResponse>(n, "ReadStdout", ReadStreamRequest.Parser, s.ReadStdout);
        server.AddUnary<ReadStreamRequest, ReadStreamResponse>(n, "ReadStderr", ReadStreamRequest.Parser, s.ReadStderr);
        server.AddUnary<CloseStdinRequest, Empty>(n, "CloseStdin", CloseStdinRequest.Parser, s.CloseStdin);
        server.AddUnary<TtyWinResizeRequest, Empty>(n, "TtyWinResize", TtyWinResizeRequest.Parser, s.TtyWinResize);
        server.AddUnary<StatsContainerRequest, StatsContainerResponse>(n, "StatsContainer", StatsContainerRequest.Parser, s.StatsContainer);
        server.AddUnary<ConfigureNetworkRequest, Empty>(n, "ConfigureNetwork", ConfigureNetworkRequest.Parser, s.ConfigureNetwork);
        server.AddUnary<PauseContainerRequest, Empty>(n, "PauseContainer", PauseContainerRequest.Parser, s.PauseContainer);
        server.AddUnary<ResumeContainerRequest, Empty>(n, "ResumeContainer", ResumeContainerRequest.Parser, s.ResumeContainer);
        server.AddUnary<UpdateContainerRequest, Empty>(n, "UpdateContainer", UpdateContainerRequest.Parser, s.UpdateContainer);
        server.AddUnary<GetOOMEventRequest, OOMEvent>(n, "GetOOMEvent", GetOOMEventRequest.Parser, s.GetOOMEvent);
        server.AddUnary<OnlineCpusRequest, OnlineCpusResponse>(n, "OnlineCpus", OnlineCpusRequest.Parser, s.OnlineCpus);
        server.AddUnary<GuestMetricsRequest, GuestMetricsResponse>(n, "GuestMetrics", GuestMetricsRequest.Parser, s.GuestMetrics);
        server.AddUnary<PortForwardOpenRequest, PortForwardOpenResponse>(n, "PortForwardOpen", PortForwardOpenRequest.Parser, s.PortForwardOpen);
        server.AddUnary<PortForwardWriteRequest, Empty>(n, "PortForwardWrite", PortForwardWriteRequest.Parser, s.PortForwardWrite);
        server.AddUnary<PortForwardReadRequest, ReadStreamResponse>(n, "PortForwardRead", PortForwardReadRequest.Parser, s.PortForwardRead);
        server.AddUnary<PortForwardCloseRequest, Empty>(n, "PortForwardClose", PortForwardCloseRequest.Parser, s.PortForwardClose);
    }
}
