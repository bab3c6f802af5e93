using Google.Protobuf.WellKnownTypes;
using Moat.Linux;
using Moat.Oci;
using Moat.Protocols.Containerd;
using Moat.Protocols.Containerd.Events;
using Moat.Protocols.Containerd.Task;
using Moat.Runtime;
using Moat.Runtime.Core;
using Moat.Ttrpc;
using Empty = Google.Protobuf.WellKnownTypes.Empty;
using CreateTaskRequest = Moat.Protocols.Containerd.Task.CreateTaskRequest;

namespace Moat.Shim;

/// <summary>
/// containerd's task API over the container core (<see cref="ContainerCore"/>): protobuf in,
/// core calls, protobuf and events out. No rule lives here. Errors become containerd's statuses
/// in one place (<see cref="StatusFor"/>).
/// </summary>
internal sealed partial class TaskService : ITaskService, ICoreEvents
{
    private readonly ShimArgs _args;
    private readonly EventPublisher _events;
    private readonly CancellationTokenSource _shutdown;
    private readonly ShimLog _log;
    private readonly ContainerCore _core;

    public TaskService(ShimArgs args, EventPublisher events, ShimLog log, CancellationTokenSource shutdown)
    {
        _args = args;
        _events = events;
        _shutdown = shutdown;
        _log = log;
        // The core logs what went wrong (warnings); its phases are debug lines. containerd's debug
        // level keeps the guest console, as `moat --debug` does, and tells its end (Delete).
        _core = new ContainerCore(new CoreSettings(log.Warn, new PhaseLog(args.Debug ? log.Debug : null), this, OpenIoAsync,
            KeepLogs: args.Debug));
    }

    public bool IsEmpty => _core.IsEmpty;

    /// <summary>Whether no Create ever reached this daemon (see <see cref="ShimDaemon"/>'s <c>NeverUsed</c>).</summary>
    public bool NeverUsed => Volatile.Read(ref _used) == 0;

    private int _used;

    public async Task<CreateTaskResponse> Create(CreateTaskRequest request, TtrpcCallContext context)
    {
        Volatile.Write(ref _used, 1);
        if (!string.IsNullOrEmpty(request.Checkpoint))
        {
            throw new TtrpcException(StatusCode.Unimplemented, "restoring from a checkpoint is not supported by Moat");
        }
        try
        {
            var spec = SpecLoader.LoadBundle(request.Bundle);
            var cli = CliOptions(request.Options);
            // A network namespace given by path is the pod's, set up by CNI: the VM becomes its endpoint.
            // Moat's CLI names the namespace its hooks configured (Docker's libnetwork) in its options.
            var netns = cli is not null ? cli.NetworkNamespace : spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "network")?.Path;
            var io = new ProcessIo(request.Stdin, request.Stdout, request.Stderr, request.Terminal);
            // Named before the VM boots, so a stand-in that dies meanwhile is not mistaken for a process that reused its pid.
            var standIn = cli is { StandInPid: > 0 } ? ProcessIdentity.Of(cli.StandInPid) : null;
            var c = await _core.CreateAsync(new CreateRequest(request.Id, request.Bundle, spec, io,
                () => SandboxOptions(request.Options, cli), string.IsNullOrEmpty(netns) ? null : netns,
                () => MountRootfs(request), () => RootfsMounter.Unmount(request.Bundle), cli?.StandInPid ?? 0), context.CancellationToken);
            if (standIn is not null)
            {
                _ = KillWhenGoneAsync(request.Id, cli!.StandInPid, standIn);
            }
            _events.Publish("/tasks/create", new TaskCreate
            {
                ContainerId = request.Id,
                Bundle = request.Bundle,
                Rootfs = { request.Rootfs.Select(m => new Moat.Protocols.Containerd.Types.Mount { Type = m.Type, Source = m.Source, Target = m.Target, Options = { m.Options } }) },
                Io = new TaskIO { Stdin = io.Stdin, Stdout = io.Stdout, Stderr = io.Stderr, Terminal = io.Terminal },
                Pid = c.Init.Pid,
            });
            return new CreateTaskResponse { Pid = c.Init.Pid };
        }
        catch (Exception e)
        {
            throw Translate(e, request.Id);
        }
    }

    /// <summary>
    /// The CLI's relay stands for the container's process on the host (the pid runc callers and
    /// Docker watch): once it is gone (SIGKILLed, say), the container's processes are killed too,
    /// so that pid's end is the container's end, as with runc.
    /// </summary>
    private async Task KillWhenGoneAsync(string id, int pid, string standIn)
    {
        if (_core.InitOf(id) is not { } init)
        {
            return;
        }
        try
        {
            using var watch = ProcessExitWatch.Open(pid);
            // Opened before this check, the pidfd names the very process the token does, or one already gone.
            var gone = watch is null || !ProcessIdentity.IsAlive(standIn) ? Task.CompletedTask : watch.Exited;
            // The task's end (or its delete) ends the watch.
            if (await Task.WhenAny(init.Exited, gone) != gone || init.Exited.IsCompleted)
            {
                return;
            }
            await gone;
        }
        catch (ErrnoException e)
        {
            _log.Warn($"task {id}: cannot watch its stand-in process {pid} ({e.Message}): its end will not end the task");
            return;
        }
        _log.Warn($"task {id}: its stand-in process {pid} is gone: killing the task");
        try
        {
            await _core.KillAsync(id, "", Moat.Linux.Signals.SIGKILL, all: true, CancellationToken.None);
        }
        catch (RuntimeException)
        {
            // already finished, or its VM is gone
        }
    }

    /// <summary>The runtime options for a sandbox this shim boots: Moat's configuration file (named by containerd's options or Moat's CLI), the shim's state root.</summary>
    private RuntimeOptions SandboxOptions(Any? requestOptions, Moat.Protocols.Shim.CreateOptions? cli)
    {
        var options = MoatConfig.Apply(new RuntimeOptions { StateRoot = ShimPaths.StateRoot(_args.Namespace), Debug = _args.Debug },
            ConfigPath(requestOptions) ?? NonEmpty(cli?.ConfigPath));
        return (options with { StateRoot = ShimPaths.StateRoot(_args.Namespace), Debug = options.Debug || _args.Debug }).WithEnvironmentOverrides();
    }

    private static bool MountRootfs(CreateTaskRequest request)
    {
        try
        {
            return RootfsMounter.Mount(request.Bundle, request.Rootfs);
        }
        catch (Moat.Linux.ErrnoException e)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"rootfs of {request.Id}: {e.Message}");
        }
    }

    public async Task<StartResponse> Start(StartRequest request, TtrpcCallContext context)
    {
        try
        {
            var p = await _core.StartAsync(request.Id, request.ExecId, context.CancellationToken, started: p =>
            {
                if (p.ExecId.Length == 0)
                {
                    _events.Publish("/tasks/start", new TaskStart { ContainerId = p.ContainerId, Pid = p.Pid });
                }
                else
                {
                    _events.Publish("/tasks/exec-started", new TaskExecStarted { ContainerId = p.ContainerId, ExecId = p.ExecId, Pid = p.Pid });
                }
            });
            return new StartResponse { Pid = p.Pid };
        }
        catch (Exception e)
        {
            throw Translate(e, request.Id);
        }
    }

    /// <summary>containerd's stdio: FIFOs (or file:// paths); a terminal has no separate stderr.</summary>
    private static async Task<ProcessStreams> OpenIoAsync(ProcessIo io, CancellationToken ct)
    {
        var stdout = await Fifos.OpenAsync(io.Stdout, FileAccess.Write, ct);
        var stderr = io.Terminal ? null : await Fifos.OpenAsync(io.Stderr, FileAccess.Write, ct);
        var stdin = await Fifos.OpenAsync(io.Stdin, FileAccess.Read, ct);
        return new ProcessStreams(stdin, stdout, stderr);
    }

    void ICoreEvents.Exited(CoreContainer container, CoreProcess p) =>
        _events.Publish("/tasks/exit", new TaskExit
        {
            ContainerId = container.Id,
            Id = p.ExecId.Length == 0 ? container.Id : p.ExecId,
            Pid = p.Pid,
            ExitStatus = p.ExitStatus,
            ExitedAt = Timestamp.FromDateTime(p.ExitedAt),
        });

    void ICoreEvents.OomKilled(string containerId) => _events.Publish("/tasks/oom", new TaskOOM { ContainerId = containerId });

    public async Task<DeleteResponse> Delete(DeleteRequest request, TtrpcCallContext context)
    {
        var (p, console) = await _core.DeleteAsync(request.Id, request.ExecId);
        if (console is not null && _log.DebugEnabled)
        {
            foreach (var line in LogKeeper.Tail(console))
            {
                _log.Debug($"guest console: {line}");
            }
        }
        var exitedAt = Timestamp.FromDateTime(p.ExitedAt == default ? DateTime.UtcNow : p.ExitedAt);
        _events.Publish("/tasks/delete", new TaskDelete
        {
            ContainerId = request.Id,
            Id = request.ExecId.Length == 0 ? request.Id : request.ExecId,
            Pid = p.Pid,
            ExitStatus = p.ExitStatus,
            ExitedAt = exitedAt,
        });
        return new DeleteResponse { Pid = p.Pid, ExitStatus = p.ExitStatus, ExitedAt = exitedAt };
    }

    public Task<StateResponse> State(StateRequest request, TtrpcCallContext context)
    {
        var c = _core.Get(request.Id);
        var p = ContainerCore.Process(c, request.ExecId);
        return Task.FromResult(new StateResponse
        {
            Id = request.Id,
            ExecId = request.ExecId,
            Bundle = c.Bundle,
            Pid = p.Pid,
            Status = StatusOf(p.OciStatus(c.Paused)),
            Stdin = p.Io.Stdin,
            Stdout = p.Io.Stdout,
            Stderr = p.Io.Stderr,
            Terminal = p.Io.Terminal,
            ExitStatus = p.ExitStatus,
            ExitedAt = p.Exited.IsCompleted ? Timestamp.FromDateTime(p.ExitedAt) : null,
        });
    }

    /// <summary>A status in containerd's terms (the task API's State).</summary>
    private static Moat.Protocols.Containerd.Types.Status StatusOf(ContainerStatus status) => status switch
    {
        ContainerStatus.Stopped => Moat.Protocols.Containerd.Types.Status.Stopped,
        ContainerStatus.Created => Moat.Protocols.Containerd.Types.Status.Created,
        ContainerStatus.Paused => Moat.Protocols.Containerd.Types.Status.Paused,
        _ => Moat.Protocols.Containerd.Types.Status.Running,
    };

    public async Task<WaitResponse> Wait(WaitRequest request, TtrpcCallContext context)
    {
        var p = await _core.WaitAsync(request.Id, request.ExecId, context.CancellationToken);
        return new WaitResponse { ExitStatus = p.ExitStatus, ExitedAt = Timestamp.FromDateTime(p.ExitedAt) };
    }

    public async Task<Empty> Kill(KillRequest request, TtrpcCallContext context)
    {
        await _core.KillAsync(request.Id, request.ExecId, request.Signal, request.All, context.CancellationToken);
        return new Empty();
    }

    public Task<PidsResponse> Pids(PidsRequest request, TtrpcCallContext context)
    {
        var c = _core.Get(request.Id);
        var response = new PidsResponse();
        response.Processes.Add(new Moat.Protocols.Containerd.Types.ProcessInfo { Pid = c.Init.Pid });
        response.Processes.AddRange(c.RunningExecs().Select(e => new Moat.Protocols.Containerd.Types.ProcessInfo { Pid = e.Pid }));
        return Task.FromResult(response);
    }

    public Task<ConnectResponse> Connect(ConnectRequest request, TtrpcCallContext context) =>
        Task.FromResult(new ConnectResponse
        {
            ShimPid = (uint)Environment.ProcessId,
            TaskPid = _core.InitOf(request.Id)?.Pid ?? 0,
            Version = ShimVersion.Value,
        });

    public Task<Empty> Shutdown(ShutdownRequest request, TtrpcCallContext context)
    {
        if (!_core.IsEmpty && !request.Now)
        {
            return Task.FromResult(new Empty()); // other tasks still live in this shim
        }
        // The server stops once this reply is out, so that the caller hears it.
        context.AfterReply(() =>
        {
            try
            {
                _shutdown.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // the daemon already stopped (SIGTERM); a callback's failure is logged by the server
            }
        });
        return Task.FromResult(new Empty());
    }

    /// <summary>containerd's runtime options (options.ConfigPath, ctr --runtime-config-path) name Moat's configuration file.</summary>
    private static string? ConfigPath(Any? options)
    {
        if (options is null || !options.TypeUrl.EndsWith("runtimeoptions.v1.Options", StringComparison.Ordinal))
        {
            return null;
        }
        var path = Moat.Protocols.Containerd.RuntimeOptions.Options.Parser.ParseFrom(options.Value).ConfigPath;
        return string.IsNullOrEmpty(path) ? null : path;
    }

    /// <summary>Options from Moat's own OCI CLI (moat create): the network namespace its hooks set up.</summary>
    private static Moat.Protocols.Shim.CreateOptions? CliOptions(Any? options) =>
        options is not null && options.TypeUrl.EndsWith(Moat.Protocols.Shim.CreateOptions.Descriptor.FullName, StringComparison.Ordinal)
            ? Moat.Protocols.Shim.CreateOptions.Parser.ParseFrom(options.Value)
            : null;

    private static string? NonEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    /// <summary>
    /// The shim's one mapping from typed errors to ttrpc statuses. The server applies it to whatever
    /// a handler throws; null leaves an unexpected error to the server (Unknown, logged).
    /// </summary>
    internal static TtrpcException? StatusFor(Exception e) => e switch
    {
        TtrpcException t => t,
        // The agent's own words (naming the container where it did): its kind travels on as the status.
        RuntimeException r => new TtrpcException(ErrorStatus.StatusOf(r.Kind), r.Message, r),
        OciException o => new TtrpcException(StatusCode.InvalidArgument, o.Message, o),
        ContainerStateException s => new TtrpcException(StatusCode.FailedPrecondition, s.Message, s),
        _ => null,
    };

    /// <summary><see cref="StatusFor"/> for a create or start, whose runtime errors are made to say which task they are about.</summary>
    private static Exception Translate(Exception e, string id) => e switch
    {
        RuntimeException r and not AgentException when !r.Message.Contains(id, StringComparison.Ordinal) =>
            new TtrpcException(ErrorStatus.StatusOf(r.Kind), $"task {id}: {r.Message}", r),
        OperationCanceledException => new TtrpcException(StatusCode.Cancelled, $"task {id}: cancelled", e),
        _ => StatusFor(e) ?? new TtrpcException(StatusCode.Internal, $"task {id}: {e.Message}", e),
    };
}
