using Moat.Protocols.Agent;
using Moat.Shim;
using Moat.Ttrpc;

namespace Moat.Fuzz.Targets;

/// <summary>
/// ttrpc, client side, as the host talks to the guest agent: eleven agent calls are issued
/// (stream ids 1, 3, ..., 21, in <see cref="Calls"/> order), then the input arrives as the raw
/// bytes the agent sends back. Every call must end in a <see cref="TtrpcException"/> or a reply
/// the host code then consumes; the connection must close only with
/// <see cref="InvalidDataException"/> or <see cref="EndOfStreamException"/>.
/// </summary>
internal sealed class TtrpcClientTarget : FuzzTarget
{
    /// <summary>The calls, in stream id order (1, 3, 5, ...).</summary>
    public static readonly string[] Calls =
    [
        "Check", "GetGuestDetails", "StartContainer", "ExecProcess", "WaitProcess", "ReadStdout",
        "WriteStdin", "StatsContainer", "GetOOMEvent", "OnlineCpus", "CreateContainer",
    ];

    public override string Name => "ttrpc-client";

    public override string Description =>
        "raw agent bytes -> FrameReader, Response protobuf, reply dispatch by stream id, agent reply parsers and their host consumers; TtrpcException";

    protected override void Execute(byte[] input) => RunAsync(async () =>
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var client = new TtrpcClient(new InputStream(input, gate.Task), new SinkStream());
        await using (client)
        {
            var agent = new AgentClient(client);
            var ct = CancellationToken.None;
            Task[] calls =
            [
                Consume(agent.CheckAsync(TimeSpan.FromMinutes(1), ct), r => AgentReplies.Consume(r)),
                Consume(agent.GetGuestDetailsAsync(ct), r => AgentReplies.Consume(r)),
                Consume(agent.StartContainerAsync(new StartContainerRequest { ContainerId = "c" }, ct), r => AgentReplies.Consume(r)),
                Consume(agent.ExecProcessAsync(new ExecProcessRequest { ContainerId = "c", ExecId = "e" }, ct), r => AgentReplies.Consume(r)),
                Consume(agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = "c" }, ct), r => AgentReplies.Consume(r)),
                Consume(agent.ReadStdoutAsync(new ReadStreamRequest { ContainerId = "c", Len = 1 << 20 }, ct), r => AgentReplies.Consume(r)),
                Consume(agent.WriteStdinAsync(new WriteStreamRequest { ContainerId = "c" }, ct), r => AgentReplies.Consume(r)),
                Consume(agent.StatsContainerAsync(new StatsContainerRequest { ContainerId = "c" }, ct), r => AgentReplies.Consume(r)),
                Consume(agent.GetOOMEventAsync(ct), r => AgentReplies.Consume(r)),
                Consume(agent.OnlineCpusAsync(new OnlineCpusRequest { Count = 2 }, ct), r => AgentReplies.Consume(r)),
                Consume(agent.CreateContainerAsync(new CreateContainerRequest { ContainerId = "c" }, ct), _ => { }),
            ];
            gate.SetResult();
            await Task.WhenAll(calls);
            await client.Completion;
            if (client.AbortReason is not (InvalidDataException or EndOfStreamException))
            {
                throw new FuzzContractException("the client connection closed for an undocumented reason", client.AbortReason);
            }
        }
    });

    protected override bool IsRejection(Exception e) => false;

    private static async Task Consume<T>(Task<T> call, Action<T> consume)
    {
        T reply;
        try
        {
            reply = await call;
        }
        catch (TtrpcException e) when (e.Code != StatusCode.Unavailable || e.InnerException is InvalidDataException or EndOfStreamException)
        {
            return; // an error status from the agent, a malformed payload, or the connection's documented end
        }

        consume(reply);
    }
}

/// <summary>What the host does with each agent reply it gets (CgroupMetrics, exit statuses, output).</summary>
internal static class AgentReplies
{
    public static void Consume(CheckResponse r) => _ = (r.Serving, r.StandbyReady, r.AgentVersion.Length);

    public static void Consume(GuestDetailsResponse r) => _ = $"{r.KernelRelease} {r.KernelVersion} {r.BootId} {r.MemTotalBytes} {r.OnlineCpus} {r.AgentReadyUptimeMs}";

    public static void Consume(StartContainerResponse r) => _ = r.Pid;

    public static void Consume(ExecProcessResponse r) => _ = r.Pid;

    /// <summary>The shim's ShimProcess.SetExited and moat run's exit code take the status as it comes.</summary>
    public static void Consume(WaitProcessResponse r) => _ = (uint)r.Status;

    public static void Consume(ReadStreamResponse r)
    {
        using var sink = new SinkStream();
        sink.Write(r.Data.Span);
        _ = r.Eof;
    }

    public static void Consume(WriteStreamResponse r) => _ = r.Len;

    /// <summary>The shim turns the guest's cgroup files into containerd's Metrics.</summary>
    public static void Consume(StatsContainerResponse r) => _ = CgroupMetrics.Parse(r.CgroupFiles).CalculateSize();

    public static void Consume(OOMEvent r) => _ = r.ContainerId.Length;

    public static void Consume(OnlineCpusResponse r) => _ = r.OnlineCpus;

    /// <summary>The shim's sandbox report takes the guest's figures into the runtime's units.</summary>
    public static void Consume(GuestMetricsResponse r) => _ = Moat.Runtime.GuestAgent.UsageOf(r);
}
