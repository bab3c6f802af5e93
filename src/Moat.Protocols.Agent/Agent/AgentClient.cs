using Google.Protobuf;
using Moat.Ttrpc;

namespace Moat.Protocols.Agent;

/// <summary>Typed host-side client of the guest agent's ttrpc service.</summary>
public sealed class AgentClient : IAsyncDisposable
{
    public const string ServiceName = "moat.agent.v1.AgentService";

    private readonly TtrpcClient _client;

    public AgentClient(TtrpcClient client) => _client = client;

    public TtrpcClient Connection => _client;

    public Task<CheckResponse> CheckAsync(TimeSpan timeout, CancellationToken ct) =>
        Call("Check", new CheckRequest(), CheckResponse.Parser, ct, timeout);

    public Task<GuestDetailsResponse> GetGuestDetailsAsync(CancellationToken ct) =>
        Call("GetGuestDetails", new GetGuestDetailsRequest(), GuestDetailsResponse.Parser, ct);

    public Task<Empty> CreateSandboxAsync(CreateSandboxRequest request, CancellationToken ct) =>
        Call("CreateSandbox", request, Empty.Parser, ct);

    public Task<Empty> DestroySandboxAsync(DestroySandboxRequest request, CancellationToken ct) =>
        Call("DestroySandbox", request, Empty.Parser, ct);

    public Task<Empty> CreateContainerAsync(CreateContainerRequest request, CancellationToken ct) =>
        Call("CreateContainer", request, Empty.Parser, ct);

    public Task<StartContainerResponse> StartContainerAsync(StartContainerRequest request, CancellationToken ct) =>
        Call("StartContainer", request, StartContainerResponse.Parser, ct);

    public Task<Empty> RemoveContainerAsync(RemoveContainerRequest request, CancellationToken ct) =>
        Call("RemoveContainer", request, Empty.Parser, ct);

    public Task<ExecProcessResponse> ExecProcessAsync(ExecProcessRequest request, CancellationToken ct) =>
        Call("ExecProcess", request, ExecProcessResponse.Parser, ct);

    public Task<Empty> SignalProcessAsync(SignalProcessRequest request, CancellationToken ct) =>
        Call("SignalProcess", request, Empty.Parser, ct);

    public Task<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, CancellationToken ct) =>
        Call("WaitProcess", request, WaitProcessResponse.Parser, ct);

    public Task<WriteStreamResponse> WriteStdinAsync(WriteStreamRequest request, CancellationToken ct) =>
        Call("WriteStdin", request, WriteStreamResponse.Parser, ct);

    public Task<ReadStreamResponse> ReadStdoutAsync(ReadStreamRequest request, CancellationToken ct) =>
        Call("ReadStdout", request, ReadStreamResponse.Parser, ct);

    public Task<ReadStreamResponse> ReadStderrAsync(ReadStreamRequest request, CancellationToken ct) =>
        Call("ReadStderr", request, ReadStreamResponse.Parser, ct);

    public Task<Empty> CloseStdinAsync(CloseStdinRequest request, CancellationToken ct) =>
        Call("CloseStdin", request, Empty.Parser, ct);

    public Task<Empty> TtyWinResizeAsync(TtyWinResizeRequest request, CancellationToken ct) =>
        Call("TtyWinResize", request, Empty.Parser, ct);

    public Task<StatsContainerResponse> StatsContainerAsync(StatsContainerRequest request, CancellationToken ct) =>
        Call("StatsContainer", request, StatsContainerResponse.Parser, ct);

    public Task<Empty> ConfigureNetworkAsync(ConfigureNetworkRequest request, CancellationToken ct) =>
        Call("ConfigureNetwork", request, Empty.Parser, ct);

    public Task<Empty> PauseContainerAsync(PauseContainerRequest request, CancellationToken ct) =>
        Call("PauseContainer", request, Empty.Parser, ct);

    public Task<Empty> ResumeContainerAsync(ResumeContainerRequest request, CancellationToken ct) =>
        Call("ResumeContainer", request, Empty.Parser, ct);

    public Task<Empty> UpdateContainerAsync(UpdateContainerRequest request, CancellationToken ct) =>
        Call("UpdateContainer", request, Empty.Parser, ct);

    public Task<OOMEvent> GetOOMEventAsync(CancellationToken ct) =>
        Call("GetOOMEvent", new GetOOMEventRequest(), OOMEvent.Parser, ct);

    public Task<OnlineCpusResponse> OnlineCpusAsync(OnlineCpusRequest request, CancellationToken ct) =>
        Call("OnlineCpus", request, OnlineCpusResponse.Parser, ct);

    public Task<GuestMetricsResponse> GuestMetricsAsync(TimeSpan timeout, CancellationToken ct) =>
        Call("GuestMetrics", new GuestMetricsRequest(), GuestMetricsResponse.Parser, ct, timeout);

    public Task<PortForwardOpenResponse> PortForwardOpenAsync(PortForwardOpenRequest request, CancellationToken ct) =>
        Call("PortForwardOpen", request, PortForwardOpenResponse.Parser, ct);

    public Task<Empty> PortForwardWriteAsync(PortForwardWriteRequest request, CancellationToken ct) =>
        Call("PortForwardWrite", request, Empty.Parser, ct);

    public Task<ReadStreamResponse> PortForwardReadAsync(PortForwardReadRequest request, CancellationToken ct) =>
        Call("PortForwardRead", request, ReadStreamResponse.Parser, ct);

    public Task<Empty> PortForwardCloseAsync(PortForwardCloseRequest request, CancellationToken ct) =>
        Call("PortForwardClose", request, Empty.Parser, ct);

    /// <summary>
    /// Told of every call that has a deadline when it ends: the method, how long it took, whether
    /// it failed (the long polls, which wait for events by design, are not timed).
    /// </summary>
    public Action<string, TimeSpan, bool>? Observer { get; set; }

    public ValueTask DisposeAsync() => _client.DisposeAsync();

    /// <summary>
    /// Deadlines of the calls that answer once their work is done; the agent is told the same
    /// deadline. Generous, as a guest under software emulation is slow (creating a container over
    /// 9p takes ~0.5 s there), but never unbounded: a wedged guest fails the call. The long polls
    /// (WaitProcess, ReadStdout/ReadStderr, GetOOMEvent, PortForwardRead) wait for events that may take forever by
    /// design and have none; they end when the connection or the caller's token does.
    /// </summary>
    internal static TimeSpan? DefaultTimeout(string method) => method switch
    {
        "WaitProcess" or "ReadStdout" or "ReadStderr" or "GetOOMEvent" or "PortForwardRead" => null,
        "CreateContainer" or "CreateSandbox" or "ExecProcess" or "StartContainer" or "RemoveContainer" or "ConfigureNetwork"
            or "OnlineCpus" or "WriteStdin" or "PortForwardWrite" => TimeSpan.FromSeconds(60),
        "DestroySandbox" => TimeSpan.FromSeconds(5),
        _ => TimeSpan.FromSeconds(30),
    };

    private Task<TResponse> Call<TRequest, TResponse>(
        string method, TRequest request, MessageParser<TResponse> parser, CancellationToken ct, TimeSpan? timeout = null)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        var deadline = timeout ?? DefaultTimeout(method);
        var call = _client.CallAsync(ServiceName, method, request, parser, deadline is { } t ? new CallOptions { Timeout = t } : null, ct);
        return Observer is { } observer && deadline is not null ? Timed(method, call, observer) : call;
    }

    private static async Task<TResponse> Timed<TResponse>(string method, Task<TResponse> call, Action<string, TimeSpan, bool> observer)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var failed = true;
        try
        {
            var response = await call.ConfigureAwait(false);
            failed = false;
            return response;
        }
        finally
        {
            observer(method, System.Diagnostics.Stopwatch.GetElapsedTime(started), failed);
        }
    }
}
