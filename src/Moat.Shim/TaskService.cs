using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Moat.Oci;
using Moat.Protocols.Containerd;
using Moat.Protocols.Containerd.Events;
using Moat.Protocols.Containerd.Task;
using Moat.Runtime;
using Moat.Ttrpc;
using Empty = Google.Protobuf.WellKnownTypes.Empty;
using CreateTaskRequest = Moat.Protocols.Containerd.Task.CreateTaskRequest;
using ExecProcessRequest = Moat.Protocols.Containerd.Task.ExecProcessRequest;

namespace Moat.Shim;

/// <summary>
/// containerd's task API over Moat sandboxes. Protobuf stays here: the runtime underneath works
/// with its own types. Errors carry containerd's status conventions (NotFound,
/// FailedPrecondition, AlreadyExists, ...) so its clients print sensible messages.
/// </summary>
internal sealed partial class TaskService : ITaskService
{
    private readonly ConcurrentDictionary<string, ShimContainer> _containers = new();
    private readonly ShimArgs _args;
    private readonly EventPublisher _events;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _shutdown;

    // One VM per shim: every container of the group (a pod) is created in it. Creating and
    // deleting containers is serialized so the VM is booted once and torn down after the last.
    private const string CriSandboxTypeAnnotation = "io.kubernetes.cri.container-type";

    private readonly SemaphoreSlim _sandboxLock = new(1, 1);
    private Sandbox? _sandbox;

    public TaskService(ShimArgs args, EventPublisher events, Action<string> log, CancellationTokenSource shutdown)
    {
        _args = args;
        _events = events;
        _log = log;
        _shutdown = shutdown;
    }

    public bool IsEmpty => _containers.IsEmpty;

    public async Task<CreateTaskResponse> Create(CreateTaskRequest request, TtrpcCallContext context)
    {
        // One create, delete or resize at a time: the duplicate check, the rootfs mount and the
        // sandbox's bookkeeping are one step, so a losing duplicate never touches the winner's mounts.
        await _sandboxLock.WaitAsync(context.CancellationToken);
        try
        {
            return await CreateLockedAsync(request, context);
        }
        finally
        {
            _sandboxLock.Release();
        }
    }

    private async Task<CreateTaskResponse> CreateLockedAsync(CreateTaskRequest request, TtrpcCallContext context)
    {
        if (_containers.ContainsKey(request.Id))
        {
            throw new TtrpcException(StatusCode.AlreadyExists, $"task {request.Id} already exists");
        }
        if (!string.IsNullOrEmpty(request.Checkpoint))
        {
            throw new TtrpcException(StatusCode.Unimplemented, "restoring from a checkpoint is not supported by Moat");
        }
        Spec spec;
        IReadOnlyList<NamespaceJoin> joins;
        try
        {
            spec = SpecLoader.LoadBundle(request.Bundle);
            joins = MapPodNamespaces(spec);
            SpecValidator.Validate(spec).ThrowIfInvalid(Path.Combine(request.Bundle, SpecLoader.ConfigFileName));
        }
        catch (OciException e)
        {
            throw new TtrpcException(StatusCode.InvalidArgument, e.Message);
        }
        if (spec.Annotations?.GetValueOrDefault(CriSandboxTypeAnnotation) == "sandbox" && !(spec.Linux?.Namespaces?.Any(n => n.Type == "network") ?? false))
        {
            throw new TtrpcException(StatusCode.InvalidArgument,
                $"pod {request.Id} asks for the host network, which a VM cannot isolate: run hostNetwork pods with runc (no runtimeClassName), or drop hostNetwork");
        }
        if (spec.Annotations?.GetValueOrDefault(CriSandboxTypeAnnotation) == "sandbox" && !(spec.Linux?.Namespaces?.Any(n => n.Type == "ipc") ?? false))
        {
            // Without an ipc namespace in the spec the pod asks for the host's: a VM has its own kernel, never the host's IPC.
            throw new TtrpcException(StatusCode.InvalidArgument,
                $"pod {request.Id} asks for the host IPC namespace (hostIPC), which a VM cannot share: run hostIPC pods with runc (no runtimeClassName), or drop hostIPC");
        }
        var mounted = false;
        try
        {
            mounted = RootfsMounter.Mount(request.Bundle, request.Rootfs);
        }
        catch (Moat.Linux.ErrnoException e)
        {
            throw new TtrpcException(StatusCode.InvalidArgument, $"rootfs of {request.Id}: {e.Message}");
        }
        Sandbox? booted = null, joined = null;
        try
        {
            var (guestSpec, binds) = SharePlan.ForContainer(request.Id, request.Bundle, spec);
            var limits = ContainerLimits.Of(spec);
            Sandbox sandbox;
            if (_sandbox is { } running && !running.VmExit.IsCompleted)
            {
                // A further container of the pod: grow the VM for its memory and CPU limits, share its files.
                sandbox = joined = running;
                await sandbox.ResizeForAsync(request.Id, limits, context.CancellationToken);
                sandbox.ShareContainer(request.Id, binds);
            }
            else
            {
                var cli = CliOptions(request.Options);
                var options = MoatConfig.Apply(new RuntimeOptions { StateRoot = ShimPaths.StateRoot(_args.Namespace), Debug = _args.Debug }, ConfigPath(request.Options) ?? NonEmpty(cli?.ConfigPath));
                options = (options with { StateRoot = ShimPaths.StateRoot(_args.Namespace), Debug = options.Debug || _args.Debug }).WithEnvironmentOverrides();
                StateDir.SweepStale(options.StateRoot, options.NodeDir);
                // A network namespace given by path is the pod's, set up by CNI: the VM becomes its endpoint.
                // Moat's CLI names the namespace its hooks configured (Docker's libnetwork) in its options.
                var netns = cli is not null ? cli.NetworkNamespace : spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "network")?.Path;
                sandbox = booted = await Sandbox.StartAsync(request.Id, options, binds, new PhaseLog(_args.Debug ? _log : null), context.CancellationToken,
                    first: limits, networkNamespace: string.IsNullOrEmpty(netns) ? null : netns,
                    growsCpus: spec.Annotations?.GetValueOrDefault(CriSandboxTypeAnnotation) == "sandbox");
                _ = ForwardOomEventsAsync(sandbox);
            }
            var io = new StdioPaths(request.Stdin, request.Stdout, request.Stderr, request.Terminal);
            await sandbox.CreateContainerAsync(request.Id, guestSpec, stdin: !string.IsNullOrEmpty(request.Stdin), context.CancellationToken, request.Bundle, joins);
            var init = new ShimProcess { ContainerId = request.Id, ExecId = "", Io = io, Pid = (uint)sandbox.VmmPid };
            init.GuestExit = WaitGuestAsync(sandbox, request.Id, "");
            var container = new ShimContainer
            {
                Id = request.Id,
                Bundle = request.Bundle,
                Sandbox = sandbox,
                Init = init,
                RootfsMounted = mounted,
                IsPodSandbox = spec.Annotations?.GetValueOrDefault(CriSandboxTypeAnnotation) == "sandbox",
            };
            _containers[request.Id] = container;
            _sandbox = sandbox;
            _ = ExitIfNeverStartedAsync(container, init);
            _events.Publish("/tasks/create", new TaskCreate
            {
                ContainerId = request.Id,
                Bundle = request.Bundle,
                Rootfs = { request.Rootfs.Select(m => new Moat.Protocols.Containerd.Types.Mount { Type = m.Type, Source = m.Source, Target = m.Target, Options = { m.Options } }) },
                Io = new TaskIO { Stdin = io.Stdin, Stdout = io.Stdout, Stderr = io.Stderr, Terminal = io.Terminal },
                Pid = init.Pid,
            });
            return new CreateTaskResponse { Pid = init.Pid };
        }
        catch (Exception e)
        {
            if (booted is not null)
            {
                await booted.TearDownAsync(keepLog: true);
            }
            else if (joined is not null)
            {
                await joined.RemoveContainerAsync(request.Id, CancellationToken.None);
            }
            if (mounted)
            {
                RootfsMounter.Unmount(request.Bundle);
            }
            throw Translate(e, request.Id);
        }
    }

    /// <summary>
    /// A pod member names its sandbox's namespaces by host path (/proc/PID/ns/TYPE, PID being the
    /// VM's, which is what this shim reports as the sandbox's pid). Inside the VM that means the
    /// sandbox container's namespaces: the path is dropped and the agent is told to join them.
    /// </summary>
    private List<NamespaceJoin> MapPodNamespaces(Spec spec)
    {
        var joins = new List<NamespaceJoin>();
        if (_sandbox is not { } sandbox || spec.Linux?.Namespaces is not { } namespaces)
        {
            return joins;
        }
        var podContainer = _containers.Values.FirstOrDefault(c => c.Sandbox == sandbox && c.IsPodSandbox)?.Id ?? sandbox.Id;
        foreach (var ns in namespaces)
        {
            if (ns.Type is "pid" or "ipc" or "uts" && ns.Path == $"/proc/{sandbox.VmmPid}/ns/{ns.Type}")
            {
                ns.Path = null;
                joins.Add(new NamespaceJoin(ns.Type, podContainer));
            }
        }
        return joins;
    }

    public async Task<StartResponse> Start(StartRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        var p = Process(c, request.ExecId);
        lock (p)
        {
            Require(ContainerOperation.Start, p, c.Paused);
            p.Started = true;
        }
        var guest = c.Sandbox.Guest;
        try
        {
            var (stdin, stdout, stderr) = await OpenIoAsync(p, context.CancellationToken);
            var relay = new StdioRelay(guest, c.Id, p.ExecId);
            if (p.ExecId.Length == 0)
            {
                await guest.StartAsync(c.Id, context.CancellationToken);
                _events.Publish("/tasks/start", new TaskStart { ContainerId = c.Id, Pid = p.Pid });
            }
            else
            {
                p.Pid = (uint)await guest.ExecAsync(c.Id, p.ExecId, p.ProcessJson, stdin is not null, context.CancellationToken);
                p.GuestExit = WaitGuestAsync(c.Sandbox, c.Id, p.ExecId);
                _events.Publish("/tasks/exec-started", new TaskExecStarted { ContainerId = c.Id, ExecId = p.ExecId, Pid = p.Pid });
            }
            _ = Supervise(c, p, relay, stdin, stdout, stderr);
            return new StartResponse { Pid = p.Pid };
        }
        catch (Exception e)
        {
            p.Started = false;
            throw Translate(e, request.Id);
        }
    }

    /// <summary>Relays stdio until the process exits and its output is drained, then reports TaskExit.</summary>
    private async Task Supervise(ShimContainer c, ShimProcess p, StdioRelay relay, Stream? stdin, Stream? stdout, Stream? stderr)
    {
        var ct = p.IoCancel.Token;
        var outTask = relay.PumpOutputAsync(false, stdout ?? Stream.Null, ct);
        var errTask = relay.PumpOutputAsync(true, stderr ?? Stream.Null, ct);
        if (stdin is not null)
        {
            _ = relay.PumpInputAsync(stdin, p.StdinCancel.Token);
        }
        var status = 255;
        try
        {
            status = await p.GuestExit!;
            // No output lost at exit: everything written reaches the FIFO before TaskExit.
            var drained = Task.WhenAll(outTask, errTask);
            await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(10)));
        }
        catch (Exception e)
        {
            _log($"task {c.Id} {p.ExecId}: {e.Message}");
        }
        finally
        {
            await p.IoCancel.CancelAsync();
            foreach (var s in new[] { stdout, stderr, stdin })
            {
                s?.Dispose();
            }
        }
        p.SetExited(status);
        _events.Publish("/tasks/exit", new TaskExit
        {
            ContainerId = c.Id,
            Id = p.ExecId.Length == 0 ? c.Id : p.ExecId,
            Pid = p.Pid,
            ExitStatus = p.ExitStatus,
            ExitedAt = Timestamp.FromDateTime(p.ExitedAt),
        });
    }

    /// <summary>The process's status by the sandbox's one rule (137 when the VM dies under it), logged when the VM died.</summary>
    private async Task<int> WaitGuestAsync(Sandbox sandbox, string id, string execId)
    {
        try
        {
            var end = await sandbox.WaitAsync(id, execId, CancellationToken.None);
            if (end.VmDeath is { } what)
            {
                _log($"task {id}: the VM stopped while the process was running ({what})");
            }
            return end.Status;
        }
        catch (AgentException e)
        {
            _log($"task {id} {execId}: wait: {e.Message}");
            return RuntimeException.VmDeathStatus;
        }
    }

    /// <summary>Publishes TaskOOM for the OOM kills the sandbox's agent reports (see <see cref="OomForwarder"/>).</summary>
    private Task ForwardOomEventsAsync(Sandbox sandbox) =>
        new OomForwarder(
            sandbox.Guest.NextOomKillAsync,
            id => _containers.TryGetValue(id, out var c) && c.Sandbox == sandbox,
            id => _events.Publish("/tasks/oom", new TaskOOM { ContainerId = id }),
            line => _log($"sandbox {sandbox.Id}: {line}"),
            sandbox.VmExit).RunAsync();

    /// <summary>An init killed before Start still exits, as containerd expects (TaskExit, then Delete).</summary>
    private async Task ExitIfNeverStartedAsync(ShimContainer c, ShimProcess p)
    {
        var status = await p.GuestExit!;
        lock (p)
        {
            if (p.Started)
            {
                return; // Supervise reports it, after the output
            }
            p.Started = true;
        }
        p.SetExited(status);
        _events.Publish("/tasks/exit", new TaskExit
        {
            ContainerId = c.Id,
            Id = c.Id,
            Pid = p.Pid,
            ExitStatus = p.ExitStatus,
            ExitedAt = Timestamp.FromDateTime(p.ExitedAt),
        });
    }

    private static async Task<(Stream? In, Stream? Out, Stream? Err)> OpenIoAsync(ShimProcess p, CancellationToken ct)
    {
        var stdout = await Fifos.OpenAsync(p.Io.Stdout, FileAccess.Write, ct);
        var stderr = p.Io.Terminal ? null : await Fifos.OpenAsync(p.Io.Stderr, FileAccess.Write, ct);
        var stdin = await Fifos.OpenAsync(p.Io.Stdin, FileAccess.Read, ct);
        return (stdin, stdout, stderr);
    }

    public async Task<DeleteResponse> Delete(DeleteRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        var p = Process(c, request.ExecId);
        Require(ContainerOperation.Delete, p, c.Paused);
        if (request.ExecId.Length > 0)
        {
            lock (c.Execs)
            {
                if (!c.Execs.Remove(request.ExecId))
                {
                    throw new TtrpcException(StatusCode.NotFound, $"{Describe(request.Id, request.ExecId)} not found"); // a concurrent delete took it
                }
            }
        }
        else
        {
            await _sandboxLock.WaitAsync(context.CancellationToken);
            try
            {
                if (!_containers.TryRemove(new KeyValuePair<string, ShimContainer>(c.Id, c)))
                {
                    throw new TtrpcException(StatusCode.NotFound, $"task {c.Id} not found"); // a concurrent delete took it
                }
                if (_containers.Values.Any(o => o.Sandbox == c.Sandbox))
                {
                    await c.Sandbox.RemoveContainerAsync(c.Id, CancellationToken.None); // the pod lives on
                }
                else
                {
                    await c.Sandbox.TearDownAsync(keepLog: _args.Debug); // containerd's debug level keeps the guest console, as `moat --debug` does
                    if (_sandbox == c.Sandbox)
                    {
                        _sandbox = null;
                    }
                }
            }
            finally
            {
                _sandboxLock.Release();
            }
            if (c.RootfsMounted)
            {
                RootfsMounter.Unmount(c.Bundle);
            }
            if (!p.Exited.IsCompleted)
            {
                p.SetExited(128 + 9); // deleted before it ever started
            }
        }
        _events.Publish("/tasks/delete", new TaskDelete
        {
            ContainerId = c.Id,
            Id = request.ExecId.Length == 0 ? c.Id : request.ExecId,
            Pid = p.Pid,
            ExitStatus = p.ExitStatus,
            ExitedAt = Timestamp.FromDateTime(p.ExitedAt == default ? DateTime.UtcNow : p.ExitedAt),
        });
        return new DeleteResponse { Pid = p.Pid, ExitStatus = p.ExitStatus, ExitedAt = Timestamp.FromDateTime(p.ExitedAt == default ? DateTime.UtcNow : p.ExitedAt) };
    }

    public Task<StateResponse> State(StateRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        var p = Process(c, request.ExecId);
        return Task.FromResult(new StateResponse
        {
            Id = request.Id,
            ExecId = request.ExecId,
            Bundle = c.Bundle,
            Pid = p.Pid,
            Status = p.Status(c.Paused),
            Stdin = p.Io.Stdin,
            Stdout = p.Io.Stdout,
            Stderr = p.Io.Stderr,
            Terminal = p.Io.Terminal,
            ExitStatus = p.ExitStatus,
            ExitedAt = p.Exited.IsCompleted ? Timestamp.FromDateTime(p.ExitedAt) : null,
        });
    }

    public async Task<WaitResponse> Wait(WaitRequest request, TtrpcCallContext context)
    {
        var p = Process(Get(request.Id), request.ExecId);
        await p.Exited.WaitAsync(context.CancellationToken);
        return new WaitResponse { ExitStatus = p.ExitStatus, ExitedAt = Timestamp.FromDateTime(p.ExitedAt) };
    }

    public async Task<Empty> Kill(KillRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        var p = Process(c, request.ExecId);
        if (p.Exited.IsCompleted)
        {
            throw new TtrpcException(StatusCode.NotFound, $"{Describe(request.Id, request.ExecId)}: process already finished");
        }
        try
        {
            await c.Sandbox.Guest.SignalAsync(c.Id, request.ExecId, request.Signal, request.All, context.CancellationToken);
        }
        catch (AgentException e) when (e.Kind == RuntimeErrorKind.NotFound)
        {
            throw new TtrpcException(StatusCode.NotFound, $"{Describe(request.Id, request.ExecId)}: process already finished");
        }
        return new Empty();
    }

    public Task<PidsResponse> Pids(PidsRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        var response = new PidsResponse();
        response.Processes.Add(new Moat.Protocols.Containerd.Types.ProcessInfo { Pid = c.Init.Pid });
        lock (c.Execs)
        {
            foreach (var e in c.Execs.Values.Where(e => e.Started && !e.Exited.IsCompleted))
            {
                response.Processes.Add(new Moat.Protocols.Containerd.Types.ProcessInfo { Pid = e.Pid });
            }
        }
        return Task.FromResult(response);
    }

    public Task<ConnectResponse> Connect(ConnectRequest request, TtrpcCallContext context) =>
        Task.FromResult(new ConnectResponse
        {
            ShimPid = (uint)Environment.ProcessId,
            TaskPid = _containers.TryGetValue(request.Id, out var c) ? c.Init.Pid : 0,
            Version = ShimVersion.Value,
        });

    public Task<Empty> Shutdown(ShutdownRequest request, TtrpcCallContext context)
    {
        if (!_containers.IsEmpty && !request.Now)
        {
            return Task.FromResult(new Empty()); // other tasks still live in this shim
        }
        _shutdown.CancelAfter(TimeSpan.FromMilliseconds(50));
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

    private ShimContainer Get(string id) =>
        _containers.TryGetValue(id, out var c) ? c : throw new TtrpcException(StatusCode.NotFound, $"task {id} not found");

    private static ShimProcess Process(ShimContainer c, string execId)
    {
        if (string.IsNullOrEmpty(execId))
        {
            return c.Init;
        }
        lock (c.Execs)
        {
            return c.Execs.TryGetValue(execId, out var p) ? p : throw new TtrpcException(StatusCode.NotFound, $"exec {execId} not found in task {c.Id}");
        }
    }

    /// <summary>Refuses <paramref name="op"/> unless the status rules allow it now (a failed precondition).</summary>
    private static void Require(ContainerOperation op, ShimProcess p, bool paused)
    {
        if (ContainerTransitions.Refusal(op, p.OciStatus(paused), Describe(p.ContainerId, p.ExecId)) is { } why)
        {
            throw new TtrpcException(StatusCode.FailedPrecondition, why);
        }
    }

    private static string Describe(string id, string execId) => string.IsNullOrEmpty(execId) ? $"task {id}" : $"exec {execId} of task {id}";

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

    /// <summary><see cref="StatusFor"/> for a create or start, whose runtime errors say which task they are about.</summary>
    private static Exception Translate(Exception e, string id) => e switch
    {
        RuntimeException r and not AgentException => new TtrpcException(ErrorStatus.StatusOf(r.Kind), $"task {id}: {r.Message}", r),
        OperationCanceledException => new TtrpcException(StatusCode.Cancelled, $"task {id}: cancelled", e),
        _ => StatusFor(e) ?? new TtrpcException(StatusCode.Internal, $"task {id}: {e.Message}", e),
    };
}
