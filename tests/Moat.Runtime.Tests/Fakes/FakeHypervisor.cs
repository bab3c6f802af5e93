using Moat.Hypervisor;
using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Runtime.Tests.Fakes;

/// <summary>
/// A VM without QEMU: "starting" it serves a scripted guest agent on the config's agent socket,
/// and every call the sandbox makes of it or of the agent is recorded. <see cref="Kill"/> is QEMU
/// dying (SIGKILL): the agent's channel closes and the fault watch fires.
/// </summary>
internal sealed class FakeHypervisor : IHypervisor
{
    /// <summary>No such host process: whatever the sandbox tries on the VMM's pid fails harmlessly.</summary>
    public const int FakePid = 0x3fff_fff0;

    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<VmFault> _fault = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<string> _calls = [];
    private Task? _serving;

    /// <summary>What the sandbox asked of the VM and of its agent, in order.</summary>
    public IReadOnlyList<string> Calls
    {
        get
        {
            lock (_calls)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>Exit statuses the agent answers WaitProcess with, by container id, once that container was started; a wait for any other ends only on a signal.</summary>
    public Dictionary<string, int> ExitStatuses { get; } = [];

    /// <summary>Containers whose workload the agent cannot exec: StartContainer fails with this reason.</summary>
    public Dictionary<string, string> ExecFailures { get; } = [];

    /// <summary>The guest's figures (GuestMetrics) are never answered: a wedged guest.</summary>
    public bool GuestMetricsHang { get; set; }

    /// <summary>Set: the agent fails every ReadStdout with this message.</summary>
    public string? OutputFailure { get; set; }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource<int>> _ends = new();

    /// <summary>The end of a container's init in the guest: its status once it was started and has one, or 128 + n for a signal n.</summary>
    private TaskCompletionSource<int> EndOf(string id) => _ends.GetOrAdd(id, _ => new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously));

    public int Pid => FakePid;
    public Task ExitTask => _exit.Task;
    public Task<VmFault> Fault => _fault.Task;

    private void Record(string call)
    {
        lock (_calls)
        {
            _calls.Add(call);
        }
    }

    public async Task StartAsync(VmConfig config, CancellationToken ct)
    {
        Record($"start {config.MemoryMiB} MiB {config.Vcpus} vCPUs");
        var server = new TtrpcServer();
        void Answer<TRequest, TResponse>(string method, Google.Protobuf.MessageParser<TRequest> parser, Func<TRequest, Task<TResponse>> answer)
            where TRequest : Google.Protobuf.IMessage<TRequest>
            where TResponse : Google.Protobuf.IMessage<TResponse> =>
            server.AddUnary<TRequest, TResponse>(AgentClient.ServiceName, method, parser, (r, _) =>
            {
                Record($"agent {method} {r}");
                return answer(r);
            });
        Answer("Check", CheckRequest.Parser, _ => Task.FromResult(new CheckResponse()));
        Answer("CreateSandbox", CreateSandboxRequest.Parser, _ => Task.FromResult(new Empty()));
        Answer("DestroySandbox", DestroySandboxRequest.Parser, _ => Task.FromResult(new Empty()));
        Answer("CreateContainer", CreateContainerRequest.Parser, _ => Task.FromResult(new Empty()));
        Answer("RemoveContainer", RemoveContainerRequest.Parser, _ => Task.FromResult(new Empty()));
        Answer("StartContainer", StartContainerRequest.Parser, r =>
        {
            if (ExecFailures.TryGetValue(r.ContainerId, out var reason))
            {
                throw new TtrpcException(StatusCode.InvalidArgument, reason);
            }
            if (ExitStatuses.TryGetValue(r.ContainerId, out var status))
            {
                EndOf(r.ContainerId).TrySetResult(status);
            }
            return Task.FromResult(new StartContainerResponse { Pid = 1 });
        });
        Answer("SignalProcess", SignalProcessRequest.Parser, r =>
        {
            EndOf(r.ContainerId).TrySetResult(128 + (int)r.Signal);
            return Task.FromResult(new Empty());
        });
        Answer("ReadStdout", ReadStreamRequest.Parser, _ => OutputFailure is { } why
            ? Task.FromException<ReadStreamResponse>(new TtrpcException(StatusCode.Internal, why))
            : Task.FromResult(new ReadStreamResponse { Eof = true }));
        Answer("ReadStderr", ReadStreamRequest.Parser, _ => Task.FromResult(new ReadStreamResponse { Eof = true }));
        Answer("PauseContainer", PauseContainerRequest.Parser, _ => Task.FromResult(new Empty()));
        Answer("ResumeContainer", ResumeContainerRequest.Parser, _ => Task.FromResult(new Empty()));
        Answer("OnlineCpus", OnlineCpusRequest.Parser, r => Task.FromResult(new OnlineCpusResponse { OnlineCpus = r.Count }));
        Answer("GuestMetrics", GuestMetricsRequest.Parser, async _ =>
        {
            if (GuestMetricsHang)
            {
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }
            return new GuestMetricsResponse { MemTotalBytes = 400 << 20, MemAvailableBytes = 300 << 20, CpuUserTicks = 250, CpuSystemTicks = 50, Processes = 2 };
        });
        Answer("WaitProcess", WaitProcessRequest.Parser, async r =>
            new WaitProcessResponse { Status = await EndOf(r.ContainerId).Task.WaitAsync(_stop.Token) });
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _serving = server.ListenUnixAsync(config.AgentSocket, _stop.Token, listening.SetResult);
        await listening.Task.WaitAsync(ct);
    }

    /// <summary>QEMU SIGKILLed: the guest and its agent are gone at once.</summary>
    public void Kill()
    {
        Record("killed");
        _stop.Cancel();
        _fault.TrySetResult(new VmFault(VmFaultKind.Exited, "QEMU exited (status 137)"));
        _exit.TrySetResult(137);
    }

    public string Describe(VmFault fault, string? consoleLog = null) => fault.Detail;

    public Task ResumeAsync(CancellationToken ct)
    {
        Record("resume");
        return Task.CompletedTask;
    }

    public Task HotplugMemoryAsync(string id, int sizeMiB, CancellationToken ct)
    {
        Record($"hotplug memory {id} {sizeMiB} MiB");
        return Task.CompletedTask;
    }

    public Task<int> HotplugCpusAsync(int count, CancellationToken ct)
    {
        Record($"hotplug {count} vCPUs");
        return Task.FromResult(count);
    }

    public void Share(string containerId, IReadOnlyList<ShareBind> binds) =>
        Record($"share {containerId}: {string.Join(", ", binds.Select(b => b.Target + (b.ReadOnly ? " ro" : "")))}");

    public void Unshare(string containerId) => Record($"unshare {containerId}");

    public Task<string> CollectLogAsync(CancellationToken ct) => Task.FromResult("fake console\n");

    public async ValueTask DisposeAsync()
    {
        Record("dispose");
        await _stop.CancelAsync();
        _exit.TrySetResult(0);
        if (_serving is not null)
        {
            await _serving;
        }
        _stop.Dispose();
    }
}
