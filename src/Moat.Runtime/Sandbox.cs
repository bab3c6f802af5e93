using Google.Protobuf;
using Moat.Hypervisor;
using Moat.Oci;
using Moat.Protocols.Agent;
using Moat.Runtime.Metrics;
using Moat.Ttrpc;

namespace Moat.Runtime;

/// <summary>One VM with its agent connection; containers are created in it through the agent.</summary>
public sealed class Sandbox : IAsyncDisposable
{
    private readonly RuntimeOptions _options;
    private readonly PhaseLog _log;
    private IHypervisor? _vm;
    private readonly VmFactory _vms;
    private AgentClient? _agent;
    private IGuestAgent? _guest;
    private readonly SemaphoreSlim _resizeLock = new(1, 1);
    private readonly VmSizing _sizing;
    private int _memoryMiB;
    private int _dimms;
    private int _vcpus;
    private Accel _accel;
    private int _bootMemoryMiB;
    private bool _restored;
    private TimeSpan _startTook;
    private Task _startRecorded = Task.CompletedTask;

    /// <summary>This sandbox's agent calls: latency and errors by method (for <c>moat monitor</c>).</summary>
    private readonly RpcLatencies _rpc = new();

    /// <summary>A pod's VM: containers that join it later may add vCPUs (see <see cref="EnsureVcpusAsync"/>).</summary>
    private bool _growsCpus;
    private string? _modulesDisk;
    private HostCgroup? _hostCgroup;
    private PodNetwork? _network;
    private PortForwarder? _ports;

    private Sandbox(string id, RuntimeOptions options, PhaseLog log, VmFactory vms)
    {
        _vms = vms;
        Id = id;
        _options = options;
        _log = log;
        State = new StateDir(options.StateRoot, id, options.NodeDir);
        _sizing = new VmSizing(id, options.MemoryMiB, options.Vcpus, options.MaxMemoryMiB, options.VcpuCeiling);
    }

    /// <summary>QEMU, launched through the VMM launcher (<paramref name="helper"/>: <c>moat-vmm</c>) with the share and the pod's taps.</summary>
    private static IHypervisor Qemu(IReadOnlyList<string> helper, string shareDir, IReadOnlyList<ShareBind> binds, PodNetwork? network) =>
        new QemuHypervisor(helper, shareDir, binds, network);

    public string Id { get; }
    public StateDir State { get; }

    /// <summary>The container operations of this sandbox's guest agent (its wire client stays in here).</summary>
    public IGuestAgent Guest => _guest ?? throw new InvalidOperationException("sandbox not started");

    private AgentClient Agent => _agent ?? throw new InvalidOperationException("sandbox not started");
    public int VmmPid => _vm?.Pid ?? 0;

    /// <summary>Completes when QEMU exits, for whatever reason.</summary>
    public Task VmExit => _vm?.ExitTask ?? Task.CompletedTask;

    /// <summary>Completes when the VM can no longer run its guest (QEMU stopped it on an error, the guest panicked, QEMU exited).</summary>
    public Task<VmFault> VmFault => _vm?.Fault ?? Task.FromResult(new VmFault(VmFaultKind.Exited, "the VM was not started"));

    /// <summary>Boots the VM with the given binds shared and waits for the agent.</summary>
    /// <param name="first">The limits of the first container (id <paramref name="id"/>): they add to the configured size.</param>
    /// <param name="networkNamespace">The pod's network namespace (from CNI): the VM becomes its endpoint.</param>
    /// <param name="vms">Makes the VM (QEMU unless given: tests pass a fake).</param>
    /// <param name="host">Where the caller put the container on the host: its cgroup (QEMU, this process and the stand-in go there) and QEMU's oom_score_adj.</param>
    /// <param name="forwardsPorts">A pod's sandbox: forward connections to its network namespace's loopback into the guest (CRI PortForward).</param>
    public static async Task<Sandbox> StartAsync(string id, RuntimeOptions options, IReadOnlyList<ShareBind> binds, PhaseLog log, CancellationToken ct,
        ContainerLimits first = default, string? networkNamespace = null, bool growsCpus = false, VmFactory? vms = null,
        HostPlacement? host = null, bool forwardsPorts = false)
    {
        var (kernel, initrd, modulesDisk) = GuestImagePaths.Resolve(options);
        var sandbox = new Sandbox(id, options, log, vms ?? Qemu) { _growsCpus = growsCpus, _modulesDisk = modulesDisk };
        if (networkNamespace is not null)
        {
            sandbox._network = await PodNetwork.PrepareAsync(networkNamespace, ct).ConfigureAwait(false);
            log.Phase($"pod network: {string.Join(", ", sandbox._network.Interfaces.Select(i => $"{i.Name} {i.Mac} {string.Join(' ', i.Addresses.Select(a => $"{a.Address}/{a.PrefixLength}"))}"))}");
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        sandbox.State.Create();
        log.Phase("state directory created");
        // Beside the boot (its iptables run takes a core the boot mostly leaves idle).
        var forwarding = networkNamespace is not null && forwardsPorts
            ? Task.Run(() => PortForwarder.StartAsync(networkNamespace, () => (IGuestPorts)sandbox.Guest, log.Phase, ct), CancellationToken.None)
            : null;
        try
        {
            sandbox._sizing.Record(id, first);
            if (host is not null)
            {
                sandbox.EnterHostCgroup(host);
            }
            try
            {
                await sandbox.BootAsync(kernel, initrd, binds, first, ct).ConfigureAwait(false);
            }
            finally
            {
                await sandbox.TakePortForwarderAsync(forwarding).ConfigureAwait(false);
            }
            sandbox._startTook = clock.Elapsed;
            if (host is not null)
            {
                sandbox.FinishPlacement(host);
            }
            // Off the start's path (its lock may wait on other starts); tear-down waits for it.
            sandbox._startRecorded = new NodeStarts(options.NodeDir).RecordAsync(sandbox._restored ? NodeStarts.TemplatePath : NodeStarts.BootPath,
                sandbox._startTook, CancellationToken.None);
            return sandbox;
        }
        catch (Exception e)
        {
            var kept = await sandbox.TearDownAsync(keepLog: true).ConfigureAwait(false);
            if (e is RuntimeException re && kept is not null && re.Kind is RuntimeErrorKind.GuestFailure or RuntimeErrorKind.Timeout)
            {
                throw new RuntimeException(re.Kind, $"{re.Message}; console log: {kept}", re);
            }
            throw;
        }
    }

    /// <summary>Keeps the port forwarder once it is set up; one that could not be only warns (the pod runs without port forwarding).</summary>
    private async Task TakePortForwarderAsync(Task<PortForwarder>? forwarding)
    {
        if (forwarding is null)
        {
            return;
        }
        try
        {
            _ports = await forwarding.ConfigureAwait(false);
            _log.Phase($"port forwarding: the pod's loopback connections go to port {_ports.ListenPort}, then into the guest");
        }
        catch (Exception e) when (e is RuntimeException or Moat.Linux.ErrnoException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            _log.Phase($"warning: port forwarding is off for this pod: {e.Message}");
        }
    }

    private async Task BootAsync(string kernel, string initrd, IReadOnlyList<ShareBind> binds, ContainerLimits first, CancellationToken ct)
    {
        var selection = QemuAcceleratorHost.Selection(_options, kernel, initrd, _log);
        var decision = await selection.DecideAsync(ct).ConfigureAwait(false);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool restored;
        try
        {
            restored = await BootUnderAsync(decision, kernel, initrd, binds, first, ct).ConfigureAwait(false);
        }
        catch (RuntimeException e) when (e.Fault is not null && decision.MayFallBack && !ct.IsCancellationRequested)
        {
            // KVM passed its canary but this guest faulted under it: never again on this host, and
            // this start goes on under TCG.
            selection.ReportKvmFault(decision, e.Message, clock.ElapsedMilliseconds);
            await DropVmAsync().ConfigureAwait(false);
            decision = decision with { Accel = Accel.Tcg, Reason = "KVM faulted during this start: " + e.Message };
            clock.Restart();
            restored = await BootUnderAsync(decision, kernel, initrd, binds, first, ct).ConfigureAwait(false);
        }
        if (decision.Accel == Accel.Tcg)
        {
            selection.ReportBooted(Accel.Tcg, clock.ElapsedMilliseconds);
        }
        _restored = restored;
        _bootMemoryMiB = _memoryMiB;
        await SetUpGuestAsync(restored, ct).ConfigureAwait(false);
        // A clone restored at the shape's size grows to its first container's memory limit (a VM
        // booted at that size has nothing to add).
        await EnsureMemoryAsync(_sizing.TargetWith(Id, first).MemoryMiB, ct).ConfigureAwait(false);
    }

    /// <summary>Starts the VM under <paramref name="decision"/>: restored from a template when there is one for its shape, else booted. True when restored.</summary>
    private async Task<bool> BootUnderAsync(AcceleratorDecision decision, string kernel, string initrd, IReadOnlyList<ShareBind> binds,
        ContainerLimits first, CancellationToken ct)
    {
        var fromTemplate = TemplateServes(first);
        _accel = decision.Accel;
        // A clone starts at the shape's size (it grows to the limit once restored); a booted VM at its own.
        VmConfig SizedFor(ContainerLimits limits)
        {
            (_memoryMiB, _vcpus) = _sizing.TargetWith(Id, limits);
            return GuestVmConfig.Sandbox(_options, kernel, initrd, decision.Accel, _memoryMiB, _vcpus,
                State.QmpSocket, State.AgentSocket, "moat-" + Id, _growsCpus, State.ShareDir, _modulesDisk,
                _network?.Interfaces.Select(i => i.Mac).ToList() ?? []);
        }
        var config = SizedFor(fromTemplate ? default : first);
        var helper = GuestVmConfig.HelperCommand(_options);
        string? restoredFrom = null;
        if (fromTemplate)
        {
            var templates = new VmTemplates(_options.TemplateDir);
            var key = VmTemplates.Key(config);
            // A template whose guest never came up fails this start too (it would not come up
            // booted either): no second full wait.
            if ((templates.Find(key) ?? await templates.CreateAsync(key, config, helper, _options.AgentTimeout, _log, ct).ConfigureAwait(false)) is { } template)
            {
                try
                {
                    await StartVmAsync(config with
                    {
                        MemoryFile = new MemoryFile(template.MemoryPath, Shared: false),
                        FreePageReporting = false,
                        IncomingStatePath = template.StatePath,
                    }, helper, binds, decision, template.LastStreamId, ct).ConfigureAwait(false);
                    restoredFrom = key;
                }
                catch (RuntimeException e) when (!ct.IsCancellationRequested)
                {
                    // A template that cannot be restored is dropped; this VM boots as usual.
                    _log.Phase($"restoring VM template {key} failed ({e.Message}): removing it and booting");
                    await DropVmAsync().ConfigureAwait(false);
                    templates.Remove(key);
                }
            }
        }
        if (restoredFrom is null)
        {
            // No clone after all (none could be made, or it would not restore): boot at the full size.
            await StartVmAsync(fromTemplate ? SizedFor(first) : config, helper, binds, decision, 0, ct).ConfigureAwait(false);
        }
        _log.Phase(restoredFrom is null ? "agent answered" : $"agent answered (VM restored from template {restoredFrom})");
        return restoredFrom is not null;
    }

    /// <summary>
    /// Templates serve the configured VM shape of the installed guest image, on q35 (the number of
    /// NICs is part of the shape). A first container's memory limit is served too: the clone is
    /// restored at the shape's size and hotplugs the rest, within <c>hypervisor.max_memory_mib</c>.
    /// A CPU limit is not: only a pod's VM can grow its vCPUs under TCG, so that VM boots at its size.
    /// </summary>
    private bool TemplateServes(ContainerLimits first) => TemplateShapes.Served(_options)
        && (first == default || (first.Cpus == 0 && _sizing.CanGrow(_sizing.BaseMemoryMiB, _sizing.TargetWith(Id, first).MemoryMiB)));

    private async Task StartVmAsync(VmConfig config, IReadOnlyList<string> helper, IReadOnlyList<ShareBind> binds, AcceleratorDecision decision,
        uint lastStreamId, CancellationToken ct)
    {
        _vm = _vms(helper, State.ShareDir, binds, _network);
        await _vm.StartAsync(config, ct).ConfigureAwait(false);
        _log.Phase($"VM started (qemu pid {_vm.Pid}, {decision.Accel.ToString().ToUpperInvariant()}: {decision.Reason})");
        var client = await AgentConnection.ConnectAsync(State.AgentSocket, _vm, ct).ConfigureAwait(false);
        if (config.IncomingStatePath is not null)
        {
            // Restored paused, with the agent's connection to the template's host still open: this
            // connection takes it over (after the ids it saw), then the VM runs.
            if (lastStreamId > 0)
            {
                client.ContinueAfter(lastStreamId);
            }
            await _vm.ResumeAsync(ct).ConfigureAwait(false);
        }
        _agent = new AgentClient(client) { Observer = _rpc.Observe };
        _guest = new GuestAgent(_agent);
        await AgentConnection.CheckAsync(_agent, _vm, _options.AgentTimeout, ct).ConfigureAwait(false);
        _agentAnswered = true;
    }

    /// <summary>The agent answered once: only then is it worth a DestroySandbox at tear-down.</summary>
    private bool _agentAnswered;

    private async Task DropVmAsync()
    {
        _agentAnswered = false;
        if (_agent is not null)
        {
            await _agent.DisposeAsync().ConfigureAwait(false);
            _agent = null;
            _guest = null;
        }
        if (_vm is not null)
        {
            await _vm.DisposeAsync().ConfigureAwait(false);
            _vm = null;
        }
    }

    /// <summary>32 bytes from the host's kernel generator (see <see cref="Moat.Linux.KernelRandom"/>).</summary>
    private static byte[] HostEntropy() => Moat.Linux.KernelRandom.Bytes(32);

    /// <summary>Syncs the guest with the host, mounts the share and configures the pod network.</summary>
    /// <param name="restored">The VM came from a template: its NICs still have the template's MACs.</param>
    private async Task SetUpGuestAsync(bool restored, CancellationToken ct)
    {
        await Agent.CreateSandboxAsync(new CreateSandboxRequest
        {
            HostTimeUnixNano = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100,
            Entropy = ByteString.CopyFrom(HostEntropy()),
            SandboxId = Id,
            Storages =
            {
                new Storage
                {
                    Driver = "9p",
                    Fstype = "9p",
                    Source = SharePlan.Tag,
                    MountPoint = SharePlan.GuestMountPoint,
                    Options = { "trans=virtio", "version=9p2000.L", "msize=524288", "cache=mmap" },
                },
            },
        }, ct).ConfigureAwait(false);
        _log.Phase("shared filesystem mounted in the guest");
        if (_network is { } net)
        {
            var request = new ConfigureNetworkRequest();
            foreach (var i in net.Interfaces)
            {
                var nic = new NetworkInterface { Mac = i.Mac, Mtu = (uint)i.Mtu, CurrentMac = restored ? VmTemplates.PlaceholderMac(request.Interfaces.Count) : "" };
                nic.Addresses.AddRange(i.Addresses.Select(a => new IpAddress { Address = a.Address, PrefixLength = (uint)a.PrefixLength }));
                request.Interfaces.Add(nic);
            }
            request.Routes.AddRange(net.Routes.Select(r => new NetworkRoute { Destination = r.Destination, PrefixLength = (uint)r.PrefixLength, Gateway = r.Gateway }));
            await Agent.ConfigureNetworkAsync(request, ct).ConfigureAwait(false);
            _log.Phase("guest network configured");
        }
    }

    /// <summary>The limits recorded for a container of this sandbox.</summary>
    public ContainerLimits LimitsOf(string containerId) => _sizing.LimitsOf(containerId);

    /// <summary>
    /// Grows the VM so <paramref name="containerId"/> fits with <paramref name="limits"/> next to the
    /// others (<see cref="VmSizing"/>), then records them; never shrinks it. Refused (nothing
    /// recorded) beyond <c>hypervisor.max_memory_mib</c>.
    /// </summary>
    public async Task ResizeForAsync(string containerId, ContainerLimits limits, CancellationToken ct)
    {
        var (memoryMiB, vcpus) = _sizing.TargetWith(containerId, limits);
        await EnsureMemoryAsync(memoryMiB, ct).ConfigureAwait(false);
        await EnsureVcpusAsync(vcpus, ct).ConfigureAwait(false);
        _sizing.Record(containerId, limits);
    }

    /// <summary>Grows the VM to at least <paramref name="totalMiB"/> by hotplugging memory (never shrinks it).</summary>
    private async Task EnsureMemoryAsync(int totalMiB, CancellationToken ct)
    {
        await _resizeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var add = _sizing.MemoryToAdd(_memoryMiB, totalMiB, slotsUsed: _dimms);
            if (add == 0)
            {
                return;
            }
            await (_vm ?? throw new InvalidOperationException("sandbox not started")).HotplugMemoryAsync((++_dimms).ToString(System.Globalization.CultureInfo.InvariantCulture), add, ct).ConfigureAwait(false);
            _memoryMiB += add;
            _log.Phase($"VM memory grown by {add} MiB to {_memoryMiB} MiB");
        }
        finally
        {
            _resizeLock.Release();
        }
    }

    /// <summary>
    /// Grows the VM to <paramref name="target"/> vCPUs (already capped at <see cref="RuntimeOptions.VcpuCeiling"/>)
    /// by hotplugging them (q35) and having the agent online them; never shrinks. A limit beyond the
    /// ceiling is not an error: the guest's cgroup still enforces the container's quota.
    /// </summary>
    private async Task EnsureVcpusAsync(int target, CancellationToken ct)
    {
        await _resizeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (target <= _vcpus)
            {
                return;
            }
            if (_options.Machine != MachineType.Q35)
            {
                _log.Phase($"{target} vCPUs asked, {_vcpus} kept: {_options.Machine.ToString().ToLowerInvariant()} cannot hotplug CPUs");
                return;
            }
            var vm = _vm ?? throw new InvalidOperationException("sandbox not started");
            if (_accel == Accel.Tcg && !_growsCpus)
            {
                // QEMU 7.2's TCG cannot plug a vCPU into a VM that has run a while (see GuestVmConfig);
                // only a pod's VM has its vCPUs from boot. The container's CPU limit still applies in the guest.
                _log.Phase($"{target} vCPUs asked, {_vcpus} kept: under TCG only a pod's VM can grow its vCPUs");
                return;
            }
            // Under TCG a pod's vCPUs exist from boot (GuestVmConfig): growing is onlining them in the guest.
            var plugged = _accel == Accel.Tcg ? target - _vcpus : await vm.HotplugCpusAsync(target - _vcpus, ct).ConfigureAwait(false);
            _vcpus += plugged;
            var online = await Guest.OnlineCpusAsync(_vcpus, ct).ConfigureAwait(false);
            _log.Phase($"VM vCPUs grown by {plugged} to {_vcpus} ({online} online in the guest)");
        }
        finally
        {
            _resizeLock.Release();
        }
    }

    /// <param name="joins">Namespaces a pod member shares with the pod's sandbox container.</param>
    public async Task CreateContainerAsync(string containerId, Spec guestSpec, bool stdin, CancellationToken ct, string? bundle = null,
        IReadOnlyList<NamespaceJoin>? joins = null)
    {
        await Guest.CreateContainerAsync(containerId, guestSpec, stdin, joins ?? [], ct).ConfigureAwait(false);
        lock (_records)
        {
            _records.Add(new ContainerRecord(containerId, bundle ?? "", DateTime.UtcNow, VmmPid));
            State.WriteContainers(_records);
        }
    }

    private readonly List<ContainerRecord> _records = [];

    /// <summary>Shares a further container's rootfs and bind sources into the running VM (<see cref="IHypervisor.Share"/>).</summary>
    public void ShareContainer(string containerId, IReadOnlyList<ShareBind> binds)
    {
        try
        {
            (_vm ?? throw new InvalidOperationException("sandbox not started")).Share(containerId, binds);
        }
        catch (IOException e)
        {
            TryUnshareContainer(containerId);
            throw new RuntimeException(RuntimeErrorKind.Internal, $"cannot share the files of {containerId} with the VM: {e.Message}", e);
        }
    }

    /// <summary>
    /// The one rule for how a guest process ends, whichever front door waits: its exit status from
    /// the agent, or, when the VM stops first (QEMU killed, a guest panic) or the agent's channel
    /// closes, <see cref="RuntimeException.VmDeathStatus"/> (137, as for a SIGKILLed process) with
    /// what happened to the VM.
    /// </summary>
    public async Task<ProcessEnd> WaitAsync(string containerId, string execId, CancellationToken ct)
    {
        var wait = Guest.WaitAsync(containerId, execId, ct);
        try
        {
            if (await Task.WhenAny(wait, VmExit).ConfigureAwait(false) == wait)
            {
                return new ProcessEnd(await wait.ConfigureAwait(false), null);
            }
        }
        catch (AgentException e)
        {
            // The channel closed (GuestFailure), or the call ended some other way as the VM went
            // down: either is the VM's death once its watch says so. Any other refusal is the agent's.
            if (e.Kind != RuntimeErrorKind.GuestFailure && await Task.WhenAny(VmFault, Task.Delay(TimeSpan.FromSeconds(2), ct)).ConfigureAwait(false) != VmFault)
            {
                throw;
            }
        }
        return new ProcessEnd(RuntimeException.VmDeathStatus, await DescribeDeathAsync().ConfigureAwait(false));
    }

    /// <summary>What the VM's watch saw (a guest panic, QEMU killed), or that the agent's channel closed.</summary>
    private async Task<string> DescribeDeathAsync()
    {
        var fault = VmFault;
        return await Task.WhenAny(fault, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false) == fault
            ? GuestText.OneLine((await fault.ConfigureAwait(false)).Detail, 300)
            : "the guest agent's channel closed: the guest crashed or panicked";
    }

    /// <summary>Removes a container from the VM: the agent kills what is left of it, then its shared files are unmounted.</summary>
    public async Task RemoveContainerAsync(string containerId, CancellationToken ct)
    {
        _sizing.Forget(containerId);
        if (_vm is null || _vm.ExitTask.IsCompleted)
        {
            return;
        }
        try
        {
            await Guest.RemoveAsync(containerId, ct).ConfigureAwait(false);
        }
        catch (AgentException e) when (e.Kind is RuntimeErrorKind.NotFound or RuntimeErrorKind.GuestFailure)
        {
        }
        TryUnshareContainer(containerId);
        lock (_records)
        {
            _records.RemoveAll(r => r.Id == containerId);
            State.WriteContainers(_records);
        }
    }

    private void TryUnshareContainer(string containerId)
    {
        if (_vm is null || _vm.ExitTask.IsCompleted)
        {
            return;
        }
        try
        {
            _vm.Unshare(containerId);
        }
        catch (IOException e)
        {
            _log.Phase($"unsharing {containerId}: {e.Message}");
        }
    }

    /// <summary>
    /// What <c>moat monitor</c> shows of this sandbox: its size and start from the host's side,
    /// its agent calls, and the guest's own memory and CPU figures when the agent answers within
    /// <paramref name="guestDeadline"/> (else <see cref="SandboxReport.GuestError"/> says why).
    /// </summary>
    public async Task<SandboxReport> ReportAsync(TimeSpan guestDeadline, CancellationToken ct)
    {
        GuestUsage? usage = null;
        string? error = null;
        if (_guest is { } guest && _vm is { Fault.IsCompleted: false })
        {
            try
            {
                usage = await guest.UsageAsync(guestDeadline, ct).ConfigureAwait(false);
            }
            catch (AgentException e)
            {
                error = e.Message;
            }
        }
        else
        {
            error = "the VM is not running";
        }
        int containers;
        lock (_records)
        {
            containers = _records.Count;
        }
        return new SandboxReport(Id, VmmPid, _accel.ToString().ToLowerInvariant(), _restored, _startTook.TotalSeconds,
            _vcpus, (long)_memoryMiB << 20, (long)(_memoryMiB - _bootMemoryMiB) << 20, containers, usage, error, _rpc.Snapshot());
    }

    /// <summary>
    /// Puts the VM's host processes in the caller's cgroup: QEMU, this process (the shim daemon, or
    /// a foreground moat run) and the CLI's relay. A host that cannot (no such hierarchy, a
    /// refused write) leaves the VM where it was, with a warning in the phase log. Before the boot,
    /// this process and the stand-in join, so QEMU starts in the group and every page the VM
    /// touches from its first is charged there (a cgroup keeps the charges a process made before it
    /// moved in: placing QEMU after the boot left its boot memory to the shim's old group, measured).
    /// </summary>
    private void EnterHostCgroup(HostPlacement host)
    {
        try
        {
            _hostCgroup = HostCgroup.Create(host.CgroupsPath);
            if (_hostCgroup is not null)
            {
                foreach (var pid in new[] { Environment.ProcessId, host.StandInPid }.Where(p => p > 0).Distinct())
                {
                    _hostCgroup.Join(pid);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or RuntimeException)
        {
            _log.Phase($"warning: host cgroup {host.CgroupsPath}: {e.Message}");
        }
    }

    /// <summary>After the boot: QEMU's membership checked, the limits written (the memory limit follows the VM's size), the OOM ranks set.</summary>
    private void FinishPlacement(HostPlacement host)
    {
        try
        {
            if (_hostCgroup is not null)
            {
                _hostCgroup.Join(VmmPid);
                _hostCgroup.Apply(host.Resources, (long)_memoryMiB << 20);
                _log.Phase($"host cgroup {_hostCgroup.Relative}");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or RuntimeException)
        {
            _log.Phase($"warning: host cgroup {host.CgroupsPath}: {e.Message}");
        }
        // The host's OOM killer ranks the VM and the stand-in the caller knows as the container's
        // process as the caller ranked the container (kubelet: by QoS class). Lowering it needs
        // CAP_SYS_RESOURCE; without it they keep their own.
        foreach (var pid in new[] { VmmPid, host.StandInPid }.Where(p => p > 0))
        {
            if (host.OomScoreAdj is not { } adj)
            {
                break;
            }
            try
            {
                File.WriteAllText($"/proc/{pid}/oom_score_adj", adj.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Phase($"warning: oom_score_adj {adj} for pid {pid}: {e.Message}");
            }
        }
    }

    /// <summary>Stops the containers (the agent syncs before it answers), stops QEMU, removes the state directory.</summary>
    public async Task<string?> TearDownAsync(bool keepLog)
    {
        if (_agent is not null && _agentAnswered && _vm is not null && !_vm.Fault.IsCompleted)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _agent.DestroySandboxAsync(new DestroySandboxRequest(), cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TtrpcException or OperationCanceledException)
            {
                // QEMU is stopped below either way
            }
        }
        if (Interlocked.Exchange(ref _ports, null) is { } ports)
        {
            try
            {
                await ports.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // Tear-down goes on whatever this left: the VM must go.
                _log.Phase($"warning: port forwarding: {e.Message}");
            }
        }
        // The console lives in QEMU (a ring buffer): read it before QEMU goes.
        var log = keepLog && _vm is not null ? await _vm.CollectLogAsync(CancellationToken.None).ConfigureAwait(false) : null;
        if (_vm is not null)
        {
            // Nothing in the guest outlives the sandbox and the agent has synced: no graceful
            // power-off to wait for (measured ~150 ms under TCG).
            await _vm.DisposeAsync().ConfigureAwait(false);
        }
        if (_agent is not null)
        {
            await _agent.DisposeAsync().ConfigureAwait(false);
        }
        if (_network is not null)
        {
            await _network.RemoveAsync().ConfigureAwait(false);
        }
        _log.Phase("VM stopped");
        _hostCgroup?.Remove();
        State.Remove();
        await _startRecorded.ConfigureAwait(false); // never fails: see NodeStarts.RecordAsync
        return log is null ? null : LogKeeper.Keep(_options.LogDir, Id, log);
    }

    public async ValueTask DisposeAsync() => await TearDownAsync(keepLog: false).ConfigureAwait(false);
}
