using System.Text.Json;
using Moat.Oci;
using Moat.Runtime.Core;
using Moat.Runtime.Tests.Fakes;

namespace Moat.Runtime.Tests;

/// <summary>
/// The container core that both front doors call, in process on fake VMs: the status rules, a
/// pod's join and sizing, the refusals, and the one answer when a VM dies. No root, no QEMU.
/// </summary>
public sealed class ContainerCoreTests : IDisposable, ICoreEvents
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moat-core-").FullName;
    private readonly List<FakeHypervisor> _vms = [];
    private readonly List<string> _events = [];
    private readonly ContainerCore _core;

    public ContainerCoreTests()
    {
        _core = new ContainerCore(new CoreSettings(Logged, new PhaseLog(null), this,
            (_, _) => Task.FromResult(new ProcessStreams(null, null, null)), KeepLogs: false, Vms: (_, _, _, _) =>
            {
                var vm = new FakeHypervisor();
                _vms.Add(vm);
                return vm;
            }));
    }

    private readonly List<string> _log = [];

    private void Logged(string line)
    {
        lock (_log)
        {
            _log.Add(line);
        }
    }

    void ICoreEvents.Exited(CoreContainer container, CoreProcess process)
    {
        lock (_events)
        {
            _events.Add($"exit {container.Id} {process.ExitStatus}");
        }
    }

    void ICoreEvents.OomKilled(string containerId)
    {
        lock (_events)
        {
            _events.Add($"oom {containerId}");
        }
    }

    /// <summary>A bundle with a rootfs and a spec; <paramref name="edit"/> shapes the spec.</summary>
    private CreateRequest Bundle(string id, Action<Spec>? edit = null)
    {
        var bundle = Path.Combine(_dir, "bundles", id);
        Directory.CreateDirectory(Path.Combine(bundle, "rootfs"));
        var spec = new Spec
        {
            OciVersion = "1.1.0",
            Root = new Root { Path = "rootfs" },
            Process = new Process { Args = ["sh"], Cwd = "/", User = new User() },
            Linux = new Moat.Oci.Linux { Namespaces = [new LinuxNamespace { Type = "pid" }, new LinuxNamespace { Type = "mount" }, new LinuxNamespace { Type = "network" }, new LinuxNamespace { Type = "ipc" }] },
        };
        edit?.Invoke(spec);
        File.WriteAllText(Path.Combine(bundle, "config.json"), JsonSerializer.Serialize(spec, OciJsonContext.Default.Spec));
        return new CreateRequest(id, bundle, SpecLoader.LoadBundle(bundle), new ProcessIo("", "", "", false), () => FakeVmOptions.In(_dir), NetworkNamespace: null);
    }

    private static void Pod(Spec spec, string type) => (spec.Annotations ??= [])[ContainerCore.CriContainerTypeAnnotation] = type;

    [Fact]
    public async Task AWorkloadThatCannotBeExecedLeavesItsContainerStoppedAsRuncDoes()
    {
        var c = await _core.CreateAsync(Bundle("c1"), CancellationToken.None);
        _vms.Single().ExecFailures["c1"] = "exec \"/nonexistent\": No such file or directory";

        var e = await Assert.ThrowsAsync<AgentException>(() => _core.StartAsync("c1", "", CancellationToken.None));
        Assert.Contains("No such file or directory", e.Message);
        // Stopped with a shell's not-found status and its exit told once, so a caller that deletes
        // only stopped tasks (Docker through containerd's runc shim) can delete it.
        Assert.Equal(ContainerStatus.Stopped, c.Init.OciStatus(c.Paused));
        Assert.Equal(127u, c.Init.ExitStatus);
        Assert.Equal(["exit c1 127"], _events);
        await Assert.ThrowsAsync<ContainerStateException>(() => _core.StartAsync("c1", "", CancellationToken.None));
        await _core.DeleteAsync("c1", "");
        Assert.Contains("dispose", _vms.Single().Calls); // its VM went with it
    }

    [Fact]
    public async Task AContainerGoesCreatedRunningStoppedAndEachStepIsRuledByItsStatus()
    {
        var c = await _core.CreateAsync(Bundle("c1"), CancellationToken.None);
        _vms.Single().ExitStatuses["c1"] = 3;
        Assert.Equal(ContainerStatus.Created, c.Init.OciStatus(c.Paused));
        Assert.Equal((uint)FakeHypervisor.FakePid, c.Init.Pid); // the VM stands for the container on the host

        var started = new List<string>();
        await _core.StartAsync("c1", "", CancellationToken.None, p => started.Add(p.ContainerId));
        Assert.Equal(["c1"], started);
        var p = await _core.WaitAsync("c1", "", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3u, p.ExitStatus);
        Assert.Null(p.VmDeath);
        Assert.Equal(["exit c1 3"], _events);
        Assert.Equal(ContainerStatus.Stopped, p.OciStatus(c.Paused));

        var again = await Assert.ThrowsAsync<ContainerStateException>(() => _core.StartAsync("c1", "", CancellationToken.None));
        Assert.Contains("task c1", again.Message);
        var kill = await Assert.ThrowsAsync<RuntimeException>(() => _core.KillAsync("c1", "", 15, false, CancellationToken.None));
        Assert.Equal(RuntimeErrorKind.NotFound, kill.Kind);

        await _core.DeleteAsync("c1", "");
        Assert.True(_core.IsEmpty);
        Assert.Contains("dispose", _vms.Single().Calls);
        Assert.Equal(RuntimeErrorKind.NotFound, (await Assert.ThrowsAsync<RuntimeException>(() => _core.DeleteAsync("c1", ""))).Kind);
    }

    [Fact]
    public async Task OutputTheGuestFailsToGiveIsSaidNotDroppedQuietly()
    {
        var c = await _core.CreateAsync(Bundle("c1"), CancellationToken.None);
        _vms.Single().ExitStatuses["c1"] = 0;
        _vms.Single().OutputFailure = "the pipe ran dry";
        await _core.StartAsync("c1", "", CancellationToken.None);
        var p = await _core.WaitAsync("c1", "", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0u, p.ExitStatus);
        lock (_log)
        {
            Assert.Contains(_log, l => l.Contains("c1", StringComparison.Ordinal) && l.Contains("stdout cut short", StringComparison.Ordinal)
                && l.Contains("the pipe ran dry", StringComparison.Ordinal));
            Assert.DoesNotContain(_log, l => l.Contains("stderr", StringComparison.Ordinal));
        }
        await _core.DeleteAsync("c1", "");
    }

    [Fact]
    public async Task ARunningContainerIsDeletedOnlyWhenForced()
    {
        await _core.CreateAsync(Bundle("c1"), CancellationToken.None);
        await _core.StartAsync("c1", "", CancellationToken.None);
        var refused = await Assert.ThrowsAsync<ContainerStateException>(() => _core.DeleteAsync("c1", ""));
        Assert.Equal(ContainerStatus.Running, refused.Status);
        Assert.Equal(ContainerStatus.Running, _core.Get("c1").Init.OciStatus(false)); // left exactly as it was
        await _core.DeleteAsync("c1", "", force: true);
        Assert.True(_core.IsEmpty);
    }

    [Fact]
    public async Task APodsMembersJoinItsVmGrowItAndShareItsNamespaces()
    {
        await _core.CreateAsync(Bundle("pause", s => Pod(s, "sandbox")), CancellationToken.None);
        var vm = _vms.Single();
        var app = Bundle("app", s =>
        {
            Pod(s, "container");
            s.Linux!.Namespaces = [.. s.Linux.Namespaces!.Where(n => n.Type != "pid" && n.Type != "ipc"),
                new LinuxNamespace { Type = "pid", Path = $"/proc/{FakeHypervisor.FakePid}/ns/pid" },
                new LinuxNamespace { Type = "ipc", Path = $"/proc/{FakeHypervisor.FakePid}/ns/ipc" }];
            s.Linux.Resources = new LinuxResources { Memory = new LinuxMemory { Limit = 300L << 20 } };
        });
        await _core.CreateAsync(app, CancellationToken.None);
        Assert.Single(_vms); // one VM per pod
        var calls = vm.Calls;
        Assert.Contains("hotplug memory 1 384 MiB", calls);
        Assert.Contains(calls, c => c.StartsWith("share app: app/rootfs", StringComparison.Ordinal));
        var create = calls.Single(c => c.StartsWith("agent CreateContainer", StringComparison.Ordinal) && c.Contains("\"app\"", StringComparison.Ordinal));
        Assert.Contains("\"joinNamespaces\": [ { \"type\": \"pid\", \"containerId\": \"pause\" }, { \"type\": \"ipc\", \"containerId\": \"pause\" } ]", create);

        await _core.DeleteAsync("app", "", force: true);
        Assert.Contains("unshare app", vm.Calls);
        Assert.DoesNotContain("dispose", vm.Calls); // the pod lives on
        await _core.DeleteAsync("pause", "", force: true);
        Assert.Contains("dispose", vm.Calls);
    }

    /// <summary>
    /// Through containerd's runc shim the pid reported for the pause container is Moat's CLI relay
    /// (its stand-in), so members name that pid's namespaces; any other host pid stays refused.
    /// </summary>
    [Fact]
    public async Task MembersNamingThePauseContainersStandInJoinItsNamespaces()
    {
        const int relay = 4242;
        await _core.CreateAsync(Bundle("pause", s => Pod(s, "sandbox")) with { StandInPid = relay }, CancellationToken.None);
        var vm = _vms.Single();
        await _core.CreateAsync(Bundle("app", s =>
        {
            Pod(s, "container");
            s.Linux!.Namespaces = [.. s.Linux.Namespaces!.Where(n => n.Type != "ipc"),
                new LinuxNamespace { Type = "ipc", Path = $"/proc/{relay}/ns/ipc" },
                new LinuxNamespace { Type = "uts", Path = $"/proc/{relay}/ns/uts" }];
        }) with { StandInPid = relay + 1 }, CancellationToken.None);
        var create = vm.Calls.Single(c => c.StartsWith("agent CreateContainer", StringComparison.Ordinal) && c.Contains("\"app\"", StringComparison.Ordinal));
        Assert.Contains("\"joinNamespaces\": [ { \"type\": \"ipc\", \"containerId\": \"pause\" }, { \"type\": \"uts\", \"containerId\": \"pause\" } ]", create);

        var stranger = await Assert.ThrowsAnyAsync<Moat.Oci.OciException>(() => _core.CreateAsync(Bundle("other", s =>
        {
            Pod(s, "container");
            s.Linux!.Namespaces = [.. s.Linux.Namespaces!.Where(n => n.Type != "ipc"), new LinuxNamespace { Type = "ipc", Path = "/proc/1/ns/ipc" }];
        }), CancellationToken.None));
        Assert.Contains("/proc/1/ns/ipc", stranger.Message);
    }

    [Fact]
    public async Task APodAskingForTheHostsNetworkOrIpcIsRefusedBeforeAnyVm()
    {
        var hostNet = await Assert.ThrowsAsync<RuntimeException>(() => _core.CreateAsync(Bundle("p1", s =>
        {
            Pod(s, "sandbox");
            s.Linux!.Namespaces!.RemoveAll(n => n.Type == "network");
        }), CancellationToken.None));
        Assert.Equal(RuntimeErrorKind.InvalidArgument, hostNet.Kind);
        Assert.Contains("hostNetwork", hostNet.Message);
        var hostIpc = await Assert.ThrowsAsync<RuntimeException>(() => _core.CreateAsync(Bundle("p2", s =>
        {
            Pod(s, "sandbox");
            s.Linux!.Namespaces!.RemoveAll(n => n.Type == "ipc");
        }), CancellationToken.None));
        Assert.Contains("hostIPC", hostIpc.Message);
        Assert.Empty(_vms);
        Assert.True(_core.IsEmpty);
    }

    [Fact]
    public async Task AVmThatDiesUnderARunningContainerEndsItWith137AndSaysWhy()
    {
        await _core.CreateAsync(Bundle("c1"), CancellationToken.None);
        await _core.StartAsync("c1", "", CancellationToken.None);
        _vms.Single().Kill();
        var p = await _core.WaitAsync("c1", "", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((uint)RuntimeException.VmDeathStatus, p.ExitStatus);
        Assert.Equal("QEMU exited (status 137)", p.VmDeath);
        Assert.Equal(["exit c1 137"], _events);
        await _core.DeleteAsync("c1", "");
    }

    [Fact]
    public async Task AContainerKilledBeforeItsStartStillExits()
    {
        await _core.CreateAsync(Bundle("c1"), CancellationToken.None);
        await _core.KillAsync("c1", "", 9, false, CancellationToken.None);
        var p = await _core.WaitAsync("c1", "", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(137u, p.ExitStatus);
        Assert.Equal(["exit c1 137"], _events);
        Assert.Equal(ContainerStatus.Stopped, p.OciStatus(false));
        await _core.DeleteAsync("c1", "");
    }

    [Fact]
    public async Task PauseAndResumeFollowTheRules()
    {
        var c = await _core.CreateAsync(Bundle("c1"), CancellationToken.None);
        await Assert.ThrowsAsync<ContainerStateException>(() => _core.PauseAsync("c1", CancellationToken.None)); // created, not running
        await _core.StartAsync("c1", "", CancellationToken.None);
        await _core.PauseAsync("c1", CancellationToken.None);
        Assert.Equal(ContainerStatus.Paused, c.Init.OciStatus(c.Paused));
        await Assert.ThrowsAsync<ContainerStateException>(() => _core.PauseAsync("c1", CancellationToken.None));
        await _core.ResumeAsync("c1", CancellationToken.None);
        Assert.Equal(ContainerStatus.Running, c.Init.OciStatus(c.Paused));
        await _core.DeleteAsync("c1", "", force: true);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
