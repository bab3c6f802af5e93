using Google.Protobuf;
using Moat.Oci;
using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Runtime;

/// <summary>
/// <see cref="IGuestAgent"/> over the agent's ttrpc API: the agent protocol's types stay in this
/// file, and a status the agent answers with becomes an <see cref="AgentException"/> of that kind,
/// its text escaped and cut short (the guest may be hostile).
/// </summary>
internal sealed class GuestAgent(AgentClient agent) : IGuestAgent, IGuestPorts
{
    /// <summary>The longest agent message passed on.</summary>
    private const int MaxMessageChars = 500;

    public Task CreateContainerAsync(string containerId, Spec guestSpec, bool stdin, IReadOnlyList<NamespaceJoin> joins, CancellationToken ct) =>
        Call(() => agent.CreateContainerAsync(new CreateContainerRequest
        {
            ContainerId = containerId,
            OciSpecJson = ByteString.CopyFrom(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(guestSpec, OciJsonContext.Default.Spec)),
            Stdin = stdin,
            JoinNamespaces = { joins.Select(j => new Moat.Protocols.Agent.NamespaceJoin { Type = j.Type, ContainerId = j.ContainerId }) },
        }, ct), ct);

    public async Task<int> StartAsync(string containerId, CancellationToken ct) =>
        (await Call(() => agent.StartContainerAsync(new StartContainerRequest { ContainerId = containerId }, ct), ct).ConfigureAwait(false)).Pid;

    public async Task<int> ExecAsync(string containerId, string execId, ReadOnlyMemory<byte> processJson, bool stdin, CancellationToken ct) =>
        (await Call(() => agent.ExecProcessAsync(new ExecProcessRequest
        {
            ContainerId = containerId,
            ExecId = execId,
            ProcessJson = ByteString.CopyFrom(processJson.Span),
            Stdin = stdin,
        }, ct), ct).ConfigureAwait(false)).Pid;

    public async Task<int> WaitAsync(string containerId, string execId, CancellationToken ct) =>
        (await Call(() => agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = containerId, ExecId = execId }, ct), ct).ConfigureAwait(false)).Status;

    public Task SignalAsync(string containerId, string execId, uint signal, bool all, CancellationToken ct) =>
        Call(() => agent.SignalProcessAsync(new SignalProcessRequest { ContainerId = containerId, ExecId = execId, Signal = signal, All = all }, ct), ct);

    public async Task<GuestOutput> ReadOutputAsync(string containerId, string execId, bool stderr, int maxBytes, CancellationToken ct)
    {
        var request = new ReadStreamRequest { ContainerId = containerId, ExecId = execId, Len = (uint)maxBytes };
        var r = await Call(() => stderr ? agent.ReadStderrAsync(request, ct) : agent.ReadStdoutAsync(request, ct), ct).ConfigureAwait(false);
        return new GuestOutput(r.Data.Memory, r.Eof);
    }

    public Task WriteStdinAsync(string containerId, string execId, ReadOnlyMemory<byte> data, CancellationToken ct) =>
        Call(() => agent.WriteStdinAsync(new WriteStreamRequest { ContainerId = containerId, ExecId = execId, Data = ByteString.CopyFrom(data.Span) }, ct), ct);

    public Task CloseStdinAsync(string containerId, string execId, CancellationToken ct) =>
        Call(() => agent.CloseStdinAsync(new CloseStdinRequest { ContainerId = containerId, ExecId = execId }, ct), ct);

    public Task ResizeTtyAsync(string containerId, string execId, uint rows, uint columns, CancellationToken ct) =>
        Call(() => agent.TtyWinResizeAsync(new TtyWinResizeRequest { ContainerId = containerId, ExecId = execId, Row = rows, Column = columns }, ct), ct);

    public Task PauseAsync(string containerId, CancellationToken ct) =>
        Call(() => agent.PauseContainerAsync(new PauseContainerRequest { ContainerId = containerId }, ct), ct);

    public Task ResumeAsync(string containerId, CancellationToken ct) =>
        Call(() => agent.ResumeContainerAsync(new ResumeContainerRequest { ContainerId = containerId }, ct), ct);

    public Task UpdateAsync(string containerId, ReadOnlyMemory<byte> resourcesJson, CancellationToken ct) =>
        Call(() => agent.UpdateContainerAsync(new UpdateContainerRequest { ContainerId = containerId, ResourcesJson = ByteString.CopyFrom(resourcesJson.Span) }, ct), ct);

    public async Task<IReadOnlyDictionary<string, string>> StatsAsync(string containerId, CancellationToken ct) =>
        (await Call(() => agent.StatsContainerAsync(new StatsContainerRequest { ContainerId = containerId }, ct), ct).ConfigureAwait(false)).CgroupFiles;

    public Task RemoveAsync(string containerId, CancellationToken ct) =>
        Call(() => agent.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = containerId, TimeoutSeconds = 2 }, ct), ct);

    public async Task<string> NextOomKillAsync(CancellationToken ct) =>
        (await Call(() => agent.GetOOMEventAsync(ct), ct).ConfigureAwait(false)).ContainerId;

    public async Task<int> OnlineCpusAsync(int count, CancellationToken ct) =>
        (int)(await Call(() => agent.OnlineCpusAsync(new OnlineCpusRequest { Count = (uint)count }, ct), ct).ConfigureAwait(false)).OnlineCpus;

    public async Task<uint> OpenAsync(int port, CancellationToken ct) =>
        (await Call(() => agent.PortForwardOpenAsync(new PortForwardOpenRequest { Port = (uint)port }, ct), ct).ConfigureAwait(false)).StreamId;

    public Task WriteAsync(uint stream, ReadOnlyMemory<byte> data, CancellationToken ct) =>
        Call(() => agent.PortForwardWriteAsync(new PortForwardWriteRequest { StreamId = stream, Data = ByteString.CopyFrom(data.Span) }, ct), ct);

    public async Task<GuestOutput> ReadAsync(uint stream, int maxBytes, CancellationToken ct)
    {
        var r = await Call(() => agent.PortForwardReadAsync(new PortForwardReadRequest { StreamId = stream, Len = (uint)maxBytes }, ct), ct).ConfigureAwait(false);
        // The guest may answer with more than asked: the caller's buffer is sized to the request.
        return r.Data.Length <= maxBytes
            ? new GuestOutput(r.Data.Memory, r.Eof)
            : throw new AgentException(RuntimeErrorKind.GuestFailure, $"the agent sent {r.Data.Length} bytes of port-forward stream {stream}, more than the {maxBytes} asked");
    }

    public Task CloseAsync(uint stream, bool sendOnly, CancellationToken ct) =>
        Call(() => agent.PortForwardCloseAsync(new PortForwardCloseRequest { StreamId = stream, SendOnly = sendOnly }, ct), ct);

    /// <summary>The one place an agent status becomes the runtime's error.</summary>
    public async Task<GuestUsage> UsageAsync(TimeSpan timeout, CancellationToken ct) =>
        UsageOf(await Call(() => agent.GuestMetricsAsync(timeout, ct), ct).ConfigureAwait(false));

    /// <summary>The guest's figures in the runtime's units (taken as they come: the guest may lie, not harm).</summary>
    internal static GuestUsage UsageOf(GuestMetricsResponse m) =>
        new(m.MemTotalBytes, m.MemFreeBytes, m.MemAvailableBytes, m.PageCacheBytes,
            m.CpuUserTicks / UserHz, m.CpuSystemTicks / UserHz, m.CpuIdleTicks / UserHz, m.Processes);

    /// <summary>The guest kernel's USER_HZ, the unit of /proc/stat's times (100 on every Linux port Moat boots).</summary>
    private const double UserHz = 100;

    private static async Task<T> Call<T>(Func<Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (TtrpcException e) when (e.Code == StatusCode.Cancelled && ct.IsCancellationRequested)
        {
            throw new OperationCanceledException(ct);
        }
        catch (TtrpcException e)
        {
            throw Translate(e);
        }
    }

    internal static AgentException Translate(TtrpcException e) =>
        new(ErrorStatus.KindOf(e.Code), GuestText.OneLine(e.Message, MaxMessageChars), e);
}
