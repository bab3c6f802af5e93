using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Moat.Protocols.Containerd.Task;
using Moat.Ttrpc;

namespace Moat.Protocols.Containerd;

/// <summary>Typed client of a shim's task API, as containerd (or Moat's CLI) calls it.</summary>
public sealed class TaskClient : IAsyncDisposable
{
    private readonly TtrpcClient _client;
    private readonly CallOptions _options;

    public TaskClient(TtrpcClient client, string ns)
    {
        _client = client;
        _options = new CallOptions { Metadata = new Dictionary<string, string> { ["containerd-namespace-ttrpc"] = ns } };
    }

    public static async Task<TaskClient> ConnectAsync(string socket, string ns, CancellationToken ct) =>
        new(await TtrpcClient.ConnectUnixAsync(socket, ct).ConfigureAwait(false), ns);

    public Task<CreateTaskResponse> CreateAsync(CreateTaskRequest r, CancellationToken ct) => Call("Create", r, CreateTaskResponse.Parser, ct);
    public Task<StartResponse> StartAsync(string id, string execId, CancellationToken ct) => Call("Start", new StartRequest { Id = id, ExecId = execId }, StartResponse.Parser, ct);
    public Task<StateResponse> StateAsync(string id, string execId, CancellationToken ct) => Call("State", new StateRequest { Id = id, ExecId = execId }, StateResponse.Parser, ct);
    public Task<DeleteResponse> DeleteAsync(string id, string execId, CancellationToken ct) => Call("Delete", new DeleteRequest { Id = id, ExecId = execId }, DeleteResponse.Parser, ct);
    public Task<Empty> KillAsync(string id, string execId, uint signal, bool all, CancellationToken ct) =>
        Call("Kill", new KillRequest { Id = id, ExecId = execId, Signal = signal, All = all }, Empty.Parser, ct);
    public Task<Empty> ExecAsync(ExecProcessRequest r, CancellationToken ct) => Call("Exec", r, Empty.Parser, ct);
    public Task<Empty> ResizePtyAsync(string id, string execId, uint width, uint height, CancellationToken ct) =>
        Call("ResizePty", new ResizePtyRequest { Id = id, ExecId = execId, Width = width, Height = height }, Empty.Parser, ct);
    public Task<Empty> CloseStdinAsync(string id, string execId, CancellationToken ct) =>
        Call("CloseIO", new CloseIORequest { Id = id, ExecId = execId, Stdin = true }, Empty.Parser, ct);
    public Task<Empty> PauseAsync(string id, CancellationToken ct) => Call("Pause", new PauseRequest { Id = id }, Empty.Parser, ct);
    public Task<Empty> ResumeAsync(string id, CancellationToken ct) => Call("Resume", new ResumeRequest { Id = id }, Empty.Parser, ct);
    public Task<Empty> UpdateAsync(string id, Any resources, CancellationToken ct) =>
        Call("Update", new UpdateTaskRequest { Id = id, Resources = resources }, Empty.Parser, ct);
    public Task<WaitResponse> WaitAsync(string id, string execId, CancellationToken ct) => Call("Wait", new WaitRequest { Id = id, ExecId = execId }, WaitResponse.Parser, ct);
    public Task<StatsResponse> StatsAsync(string id, CancellationToken ct) => Call("Stats", new StatsRequest { Id = id }, StatsResponse.Parser, ct);
    public Task<Empty> ShutdownAsync(string id, CancellationToken ct) => Call("Shutdown", new ShutdownRequest { Id = id }, Empty.Parser, ct);
    /// <summary>The task API's Connect: the shim daemon's pid (and the task's).</summary>
    public Task<ConnectResponse> ConnectShimAsync(string id, CancellationToken ct) => Call("Connect", new ConnectRequest { Id = id }, ConnectResponse.Parser, ct);

    private Task<TResponse> Call<TRequest, TResponse>(string method, TRequest request, MessageParser<TResponse> parser, CancellationToken ct)
        where TRequest : IMessage<TRequest> where TResponse : IMessage<TResponse> =>
        _client.CallAsync(TaskServiceBinder.ServiceName, method, request, parser, _options, ct);

    public ValueTask DisposeAsync() => _client.DisposeAsync();
}
