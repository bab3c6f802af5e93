using System.Collections.Concurrent;
using System.Text.Json;
using Google.Protobuf;
using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Oci;
using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Agent;

internal sealed partial class AgentService : IAgentService
{
    /// <summary>The CRI annotation that tells a pod's sandbox (pause) container from its members.</summary>
    public const string CriContainerTypeAnnotation = "io.kubernetes.cri.container-type";

    public const string Version = "0.1.0";

    private readonly ConcurrentDictionary<string, Container> _containers = new();
    private readonly ProcessLauncher _launcher;
    private readonly long _readyUptimeMs;
    private readonly List<string> _sandboxMounts = [];
    private readonly OomWatcher _oom = new();

    private readonly Cgroups _cgroups;

    /// <summary>The agent's warm-up (<see cref="Prewarm.Agent"/>): a VM template is saved once it is done.</summary>
    private readonly Task _warm;

    /// <param name="cgroups">Where containers' cgroups go (the guest's unless given).</param>
    /// <param name="warm">The agent's warm-up, running; none when not given.</param>
    public AgentService(ProcessLauncher launcher, long readyUptimeMs, Cgroups? cgroups = null, Task? warm = null)
    {
        _cgroups = cgroups ?? Cgroups.Guest;
        _warm = warm ?? Task.CompletedTask;
        _launcher = launcher;
        _readyUptimeMs = readyUptimeMs;
    }

    public Task<CheckResponse> Check(CheckRequest request, TtrpcCallContext context)
    {
        Log.Verbose($"check at {Uptime.Milliseconds()} ms");
        return Task.FromResult(new CheckResponse { Serving = true, AgentVersion = Version, StandbyReady = _warm.IsCompleted && _launcher.StandbyWarm() });
    }

    public Task<GuestDetailsResponse> GetGuestDetails(GetGuestDetailsRequest request, TtrpcCallContext context)
    {
        var mem = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        ulong memKb = 0;
        if (mem is not null)
        {
            ulong.TryParse(mem.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out memKb);
        }
        return Task.FromResult(new GuestDetailsResponse
        {
            KernelRelease = File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
            KernelVersion = File.ReadAllText("/proc/sys/kernel/version").Trim(),
            BootId = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim(),
            MemTotalBytes = memKb * 1024,
            OnlineCpus = (uint)GuestCpus.Online(),
            AgentVersion = Version,
            AgentReadyUptimeMs = (ulong)_readyUptimeMs,
        });
    }

    public Task<Empty> CreateSandbox(CreateSandboxRequest request, TtrpcCallContext context)
    {
        try
        {
            GuestSync.SetClock(request.HostTimeUnixNano);
            if (!request.Entropy.IsEmpty)
            {
                GuestSync.Reseed(request.Entropy.Span);
            }
        }
        catch (Exception e) when (e is ErrnoException or ArgumentException)
        {
            throw new AgentException(AgentErrorKind.Internal, e.Message);
        }
        foreach (var s in request.Storages)
        {
            Directory.CreateDirectory(s.MountPoint);
            var fstype = string.IsNullOrEmpty(s.Fstype) ? s.Driver : s.Fstype;
            var opts = MountOptions.Parse(s.Options);
            var rc = Libc.mount(s.Source, s.MountPoint, fstype, opts.Flags, opts.Data.Length == 0 ? null : opts.Data);
            if (rc < 0)
            {
                var err = new ErrnoException("mount", System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), $"{fstype} {s.Source} on {s.MountPoint}");
                throw new AgentException(AgentErrorKind.Internal, err.Message);
            }
            lock (_sandboxMounts)
            {
                _sandboxMounts.Add(s.MountPoint);
            }
        }
        if (!string.IsNullOrEmpty(request.Hostname))
        {
            Libc.sethostname(request.Hostname, System.Text.Encoding.UTF8.GetByteCount(request.Hostname));
        }
        return Task.FromResult(new Empty());
    }

    public async Task<Empty> DestroySandbox(DestroySandboxRequest request, TtrpcCallContext context)
    {
        foreach (var c in _containers.Values)
        {
            await KillContainerAsync(c, TimeSpan.FromSeconds(2));
        }
        _containers.Clear();
        lock (_sandboxMounts)
        {
            foreach (var m in Enumerable.Reverse(_sandboxMounts))
            {
                Libc.umount2(m, Libc.MNT_DETACH);
            }
            _sandboxMounts.Clear();
        }
        // Everything written to the shared filesystem or the guest's disks is on the host once we
        // answer: the host may then stop the VM without a graceful power-off.
        Libc.sync();
        if (request.PowerOff)
        {
            _ = Task.Run(async () =>
            {
                await Task.Delay(20);
                Log.Verbose("powering off");
                Boot.PowerOff();
            });
        }
        return new Empty();
    }

    public Task<Empty> CreateContainer(CreateContainerRequest request, TtrpcCallContext context)
    {
        Log.Verbose($"create {request.ContainerId} at {Uptime.Milliseconds()} ms");
        Spec spec;
        try
        {
            // The host validated this spec before it sent it; the guest only deserializes it, as
            // under software emulation the validator's code alone takes a noticeable while to run once.
            spec = SpecLoader.Deserialize(request.OciSpecJson.ToStringUtf8());
        }
        catch (OciException e)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, e.Message);
        }
        Log.Verbose($"spec parsed at {Uptime.Milliseconds()} ms");
        var container = new Container(request.ContainerId, spec);
        if (!_containers.TryAdd(request.ContainerId, container))
        {
            throw new AgentException(AgentErrorKind.AlreadyExists, $"container {request.ContainerId} already exists");
        }
        if (PodHolder.IsPodSandbox(spec) && !string.IsNullOrEmpty(spec.Hostname))
        {
            // The pod's containers share the guest's own UTS namespace (their spec names the
            // sandbox's, a host path): give it the pod's hostname.
            Libc.sethostname(spec.Hostname, spec.Hostname.Length);
        }
        try
        {
            var process = spec.Process ?? throw new AgentException(AgentErrorKind.InvalidArgument, "config.json has no process");
            var init = new InitSpec { Spec = spec, Rootfs = spec.Root!.Path, Process = process, Hold = PodHolder.Holds(spec) };
            try
            {
                _cgroups.Create(request.ContainerId, spec.Linux?.Resources);
            }
            catch (IOException e)
            {
                throw new AgentException(AgentErrorKind.InvalidArgument, $"container {request.ContainerId}: linux.resources: {e.Message}");
            }
            container.Init = _launcher.Launch("", init, exec: false, terminal: process.Terminal, stdin: request.Stdin,
                beforeSpec: pid => _cgroups.Join(request.ContainerId, pid), joins: PodJoins(request.JoinNamespaces));
            _oom.Watch(request.ContainerId);
            container.PidNamespace = ReadLinkOrNull($"/proc/{container.Init.Pid}/ns/pid");
            _ = container.Init.Exit.ContinueWith(_ => container.Init.CloseStdin(), TaskScheduler.Default);
            Log.Verbose($"created {request.ContainerId} at {Uptime.Milliseconds()} ms");
        }
        catch
        {
            _containers.TryRemove(request.ContainerId, out _);
            _cgroups.Remove(request.ContainerId);
            throw;
        }
        return Task.FromResult(new Empty());
    }

    public Task<StartContainerResponse> StartContainer(StartContainerRequest request, TtrpcCallContext context)
    {
        var c = Get(request.ContainerId);
        var init = c.Process("");
        lock (c)
        {
            if (c.Started)
            {
                throw new AgentException(AgentErrorKind.FailedPrecondition, $"container {c.Id} is already started");
            }
            c.Started = true;
        }
        var error = ProcessLauncher.Start(init);
        if (error is not null)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, error);
        }
        return Task.FromResult(new StartContainerResponse { Pid = init.Pid });
    }

    public async Task<Empty> RemoveContainer(RemoveContainerRequest request, TtrpcCallContext context)
    {
        if (_containers.TryRemove(request.ContainerId, out var c))
        {
            await KillContainerAsync(c, TimeSpan.FromSeconds(Math.Max(1, request.TimeoutSeconds)));
            _oom.Forget(c.Id);
            _cgroups.Remove(c.Id);
        }
        return new Empty();
    }

    public Task<ExecProcessResponse> ExecProcess(ExecProcessRequest request, TtrpcCallContext context)
    {
        var c = Get(request.ContainerId);
        var init = c.Process("");
        if (!c.Started || init.Exited)
        {
            throw new AgentException(AgentErrorKind.FailedPrecondition, $"container {c.Id} is not running");
        }
        if (PodHolder.Holds(c.Spec))
        {
            // Its mount namespace is the guest's own: there is no container filesystem to run a process in.
            throw new AgentException(AgentErrorKind.FailedPrecondition,
                $"container {c.Id} is the pod's sandbox, held without a program or filesystem: exec in one of the pod's containers");
        }
        Moat.Oci.Process process;
        try
        {
            process = JsonSerializer.Deserialize(request.ProcessJson.Span, OciJsonContext.Default.Process)
                ?? throw new JsonException("null process");
        }
        catch (JsonException e)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"exec {request.ExecId}: invalid process JSON: {e.Message}");
        }
        if (process.Args is not { Count: > 0 })
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"exec {request.ExecId}: process.args must not be empty");
        }
        lock (c.Execs)
        {
            if (c.Execs.ContainsKey(request.ExecId))
            {
                throw new AgentException(AgentErrorKind.AlreadyExists, $"exec {request.ExecId} already exists in container {c.Id}");
            }
        }
        var spec = new InitSpec { Process = process, InitPid = init.Pid, Seccomp = c.Spec.Linux?.Seccomp };
        var p = _launcher.Launch(request.ExecId, spec, exec: true, terminal: process.Terminal, stdin: request.Stdin,
            beforeSpec: pid => _cgroups.Join(c.Id, pid));
        p.StartPipe?.Dispose();
        p.StartPipe = null;
        var error = ProcessLauncher.AwaitExec(p);
        if (error is not null)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, error);
        }
        _ = p.Exit.ContinueWith(_ => p.CloseStdin(), TaskScheduler.Default);
        lock (c.Execs)
        {
            c.Execs[request.ExecId] = p;
        }
        return Task.FromResult(new ExecProcessResponse { Pid = p.Pid });
    }

    public Task<Empty> SignalProcess(SignalProcessRequest request, TtrpcCallContext context)
    {
        var c = Get(request.ContainerId);
        if (request.All)
        {
            SignalAll(c, (int)request.Signal);
            if (request.Signal == 9)
            {
                _ = ReportIfStillAliveAsync(c, c.Process(""));
            }
            return Task.FromResult(new Empty());
        }
        var p = c.Process(request.ExecId);
        if (request.Signal == 9)
        {
            _ = ReportIfStillAliveAsync(c, p);
        }
        if (p.Exited)
        {
            throw new AgentException(AgentErrorKind.NotFound, $"process {Describe(c, request.ExecId)} already exited");
        }
        if (Libc.kill(p.Pid, (int)request.Signal) < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new AgentException(errno == Libc.ESRCH ? AgentErrorKind.NotFound : AgentErrorKind.Internal,
                new ErrnoException("kill", errno, Describe(c, request.ExecId)).Message);
        }
        return Task.FromResult(new Empty());
    }

    public async Task<WaitProcessResponse> WaitProcess(WaitProcessRequest request, TtrpcCallContext context)
    {
        var p = Get(request.ContainerId).Process(request.ExecId);
        var status = await p.Exit.WaitAsync(context.CancellationToken);
        return new WaitProcessResponse { Status = status };
    }

    public Task<StatsContainerResponse> StatsContainer(StatsContainerRequest request, TtrpcCallContext context)
    {
        var c = Get(request.ContainerId);
        var response = new StatsContainerResponse();
        response.CgroupFiles.Add(_cgroups.Read(c.Id));
        return Task.FromResult(response);
    }

    public Task<Empty> ConfigureNetwork(ConfigureNetworkRequest request, TtrpcCallContext context)
    {
        try
        {
            NetworkConfig.Up("lo");
            foreach (var i in request.Interfaces)
            {
                var name = NetworkConfig.FindByMac(i.Mac);
                if (name is null && i.CurrentMac.Length > 0 && NetworkConfig.FindByMac(i.CurrentMac) is { } renamed)
                {
                    NetworkConfig.SetMac(renamed, i.Mac);
                    name = renamed;
                }
                if (name is null)
                {
                    throw new AgentException(AgentErrorKind.NotFound, $"no guest interface has MAC {i.Mac}: is virtio_net loaded?");
                }
                if (i.Mtu > 0)
                {
                    NetworkConfig.SetMtu(name, (int)i.Mtu);
                }
                foreach (var a in i.Addresses)
                {
                    NetworkConfig.SetAddress(name, System.Net.IPAddress.Parse(a.Address), (int)a.PrefixLength);
                }
                NetworkConfig.Up(name);
                Log.Verbose($"interface {name} ({i.Mac}): {string.Join(", ", i.Addresses.Select(a => $"{a.Address}/{a.PrefixLength}"))}");
            }
            foreach (var r in request.Routes)
            {
                NetworkConfig.AddRoute(System.Net.IPAddress.Parse(r.Destination), (int)r.PrefixLength, System.Net.IPAddress.Parse(r.Gateway), device: null);
            }
        }
        catch (Exception e) when (e is IOException or FormatException or ArgumentException)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"network: {e.Message}");
        }
        return Task.FromResult(new Empty());
    }

    public async Task<Empty> PauseContainer(PauseContainerRequest request, TtrpcCallContext context)
    {
        await FreezeAsync(Get(request.ContainerId), true, context.CancellationToken);
        return new Empty();
    }

    public async Task<Empty> ResumeContainer(ResumeContainerRequest request, TtrpcCallContext context)
    {
        await FreezeAsync(Get(request.ContainerId), false, context.CancellationToken);
        return new Empty();
    }

    private async Task FreezeAsync(Container c, bool frozen, CancellationToken ct)
    {
        if (!c.Started || c.Process("").Exited)
        {
            throw new AgentException(AgentErrorKind.FailedPrecondition, $"container {c.Id} is not running");
        }
        try
        {
            await _cgroups.FreezeAsync(c.Id, frozen, ct);
        }
        catch (IOException e)
        {
            throw new AgentException(AgentErrorKind.Internal, $"container {c.Id}: {e.Message}");
        }
    }

    public Task<Empty> UpdateContainer(UpdateContainerRequest request, TtrpcCallContext context)
    {
        var c = Get(request.ContainerId);
        LinuxResources? resources;
        try
        {
            resources = JsonSerializer.Deserialize(request.ResourcesJson.Span, OciJsonContext.Default.LinuxResources);
        }
        catch (JsonException e)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"container {c.Id}: invalid resources JSON: {e.Message}");
        }
        try
        {
            _cgroups.Apply(c.Id, resources);
        }
        catch (IOException e)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"container {c.Id}: {e.Message}");
        }
        return Task.FromResult(new Empty());
    }

    public async Task<OOMEvent> GetOOMEvent(GetOOMEventRequest request, TtrpcCallContext context) =>
        new() { ContainerId = await _oom.Events.ReadAsync(context.CancellationToken) };

    private Container Get(string id) =>
        _containers.TryGetValue(id, out var c) ? c : throw new AgentException(AgentErrorKind.NotFound, $"container {id} not found");

    private static string Describe(Container c, string execId) =>
        string.IsNullOrEmpty(execId) ? $"init of container {c.Id}" : $"exec {execId} of container {c.Id}";

    private static string? ReadLinkOrNull(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>A process SIGKILLed is gone within moments; if not, log what the container's processes are doing.</summary>
    private static async Task ReportIfStillAliveAsync(Container c, GuestProcess p)
    {
        await Task.WhenAny(p.Exit, Task.Delay(TimeSpan.FromSeconds(5)));
        if (p.Exited)
        {
            return;
        }
        var lines = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                var inContainer = c.PidNamespace is not null && ReadLinkOrNull($"{dir}/ns/pid") == c.PidNamespace;
                if (inContainer || pid == p.Pid)
                {
                    var stat = File.ReadAllText($"{dir}/stat").Trim();
                    var wchan = File.Exists($"{dir}/wchan") ? File.ReadAllText($"{dir}/wchan") : "?";
                    lines.Add($"{stat} wchan={wchan}");
                }
            }
            catch (IOException)
            {
            }
        }
        Log.Info($"{Describe(c, p.ExecId)} (pid {p.Pid}) still not reaped 5 s after SIGKILL; its processes: {string.Join(" | ", lines)}");
    }

    /// <summary>The namespaces the host says a pod member shares with another container (its pod's sandbox container), by that container's init.</summary>
    private List<(string Type, int Pid)> PodJoins(IEnumerable<NamespaceJoin> requested)
    {
        var joins = new List<(string, int)>();
        foreach (var (type, id) in requested.Select(j => (j.Type, j.ContainerId)))
        {
            if (type is not ("pid" or "ipc" or "uts"))
            {
                throw new AgentException(AgentErrorKind.InvalidArgument, $"cannot share a namespace of type '{type}': only pid, ipc and uts are shared in a pod");
            }
            var other = Get(id);
            if (other.Init is not { } init || init.Exited)
            {
                throw new AgentException(AgentErrorKind.FailedPrecondition, $"cannot share the {type} namespace of {id}: it is not running");
            }
            joins.Add((type, init.Pid));
        }
        return joins;
    }

    private void SignalAll(Container c, int signal)
    {
        // The container's cgroup holds exactly its processes, even in a PID namespace shared with its pod.
        var procs = Path.Combine(_cgroups.PathOf(c.Id), "cgroup.procs");
        if (File.Exists(procs))
        {
            foreach (var line in File.ReadAllLines(procs))
            {
                if (int.TryParse(line, out var pid))
                {
                    Libc.kill(pid, signal);
                }
            }
            return;
        }
        if (c.PidNamespace is null)
        {
            return;
        }
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid) && ReadLinkOrNull($"{dir}/ns/pid") == c.PidNamespace)
            {
                Libc.kill(pid, signal);
            }
        }
    }

    private async Task KillContainerAsync(Container c, TimeSpan grace)
    {
        if (c.Init is not { } init)
        {
            return;
        }
        init.StartPipe?.Dispose(); // a created-but-never-started init exits on EOF
        init.StartPipe = null;
        if (!init.Exited)
        {
            SignalAll(c, Signals.SIGKILL);
            Libc.kill(init.Pid, Signals.SIGKILL);
            await Task.WhenAny(init.Exit, Task.Delay(grace));
        }
    }
}
