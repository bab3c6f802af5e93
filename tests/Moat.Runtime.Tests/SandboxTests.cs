using Moat.Runtime.Tests.Fakes;

namespace Moat.Runtime.Tests;

/// <summary>
/// The sandbox's own rules, in process: a fake VM (no QEMU) serving a scripted agent over a real
/// ttrpc socket. No root, no KVM, a few milliseconds each.
/// </summary>
public sealed partial class SandboxTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moat-sandbox-").FullName;
    private readonly List<FakeHypervisor> _vms = [];

    private Task<Sandbox> StartAsync(string id, ContainerLimits first = default, bool growsCpus = false) =>
        Sandbox.StartAsync(id, FakeVmOptions.In(_dir), [], new PhaseLog(null), CancellationToken.None, first, growsCpus: growsCpus, vms: (_, _, _, _) =>
        {
            var vm = new FakeHypervisor();
            _vms.Add(vm);
            return vm;
        });

    [Fact]
    public async Task TheVmIsBootedAtItsConfiguredSizePlusTheFirstContainersLimits()
    {
        await using var sandbox = await StartAsync("c1", new ContainerLimits(300, 2));
        var calls = _vms.Single().Calls;
        Assert.Equal("start 812 MiB 3 vCPUs", calls[0]);
        Assert.Contains(calls, c => c.StartsWith("agent Check", StringComparison.Ordinal));
        Assert.Contains(calls, c => c.StartsWith("agent CreateSandbox", StringComparison.Ordinal) && c.Contains("\"sandboxId\": \"c1\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task APodGrowsForEachMembersLimitsAndNeverShrinks()
    {
        await using var sandbox = await StartAsync("pod1");
        var vm = _vms.Single();
        await sandbox.ResizeForAsync("app", new ContainerLimits(300, 0), CancellationToken.None); // 512 + 300: one 384 MiB step
        await sandbox.ResizeForAsync("app", new ContainerLimits(100, 0), CancellationToken.None); // smaller: nothing
        await sandbox.ResizeForAsync("side", new ContainerLimits(200, 0), CancellationToken.None); // 512 + 100 + 200 fits in 896
        await sandbox.RemoveContainerAsync("app", CancellationToken.None);
        await sandbox.ResizeForAsync("big", new ContainerLimits(700, 0), CancellationToken.None); // 512 + 200 + 700 = 1412: 1280 more... 896 + 640
        Assert.Equal(["hotplug memory 1 384 MiB", "hotplug memory 2 640 MiB"], vm.Calls.Where(c => c.StartsWith("hotplug", StringComparison.Ordinal)));
        Assert.Equal(new ContainerLimits(700, 0), sandbox.LimitsOf("big"));
        Assert.Equal(default, sandbox.LimitsOf("app"));
    }

    [Fact]
    public async Task GrowingPastTheMaximumIsRefusedAndRecordsNothing()
    {
        await using var sandbox = await StartAsync("pod1");
        var e = await Assert.ThrowsAsync<RuntimeException>(() => sandbox.ResizeForAsync("app", new ContainerLimits(4096, 0), CancellationToken.None));
        Assert.Equal(RuntimeErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("max_memory_mib", e.Message);
        Assert.Equal(default, sandbox.LimitsOf("app"));
        Assert.DoesNotContain(_vms.Single().Calls, c => c.StartsWith("hotplug", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GrowingPastTheMemorySlotsIsRefusedNamingThem()
    {
        await using var sandbox = await StartAsync("pod1");
        for (var i = 1; i <= Moat.Hypervisor.QemuCommandLine.MemoryHotplugSlots; i++)
        {
            await sandbox.ResizeForAsync("c" + i, new ContainerLimits(VmSizing.MemoryBlockMiB, 0), CancellationToken.None); // a block each
        }
        var e = await Assert.ThrowsAsync<RuntimeException>(() => sandbox.ResizeForAsync("one-more", new ContainerLimits(VmSizing.MemoryBlockMiB, 0), CancellationToken.None));
        Assert.Equal(RuntimeErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("memory hotplug slots", e.Message);
        Assert.Equal(default, sandbox.LimitsOf("one-more"));
        Assert.Equal(Moat.Hypervisor.QemuCommandLine.MemoryHotplugSlots, _vms.Single().Calls.Count(c => c.StartsWith("hotplug memory", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task APodVmUnderTcgGrowsItsVcpusByOnliningThem()
    {
        await using var sandbox = await StartAsync("pod1", growsCpus: true);
        await sandbox.ResizeForAsync("app", new ContainerLimits(0, 2), CancellationToken.None);
        var calls = _vms.Single().Calls;
        Assert.Equal("start 512 MiB 4 vCPUs", calls[0]); // under TCG a pod's vCPUs are all present from boot (up to the ceiling)
        Assert.DoesNotContain(calls, c => c.StartsWith("hotplug", StringComparison.Ordinal));
        Assert.Contains(calls, c => c.StartsWith("agent OnlineCpus { \"count\": 3 }", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AProcessEndsWithItsStatusOrWith137WhenTheVmDiesUnderIt()
    {
        await using var sandbox = await StartAsync("c1");
        var vm = _vms.Single();
        vm.ExitStatuses["done"] = 3;
        await sandbox.Guest.StartAsync("done", CancellationToken.None);
        Assert.Equal(new ProcessEnd(3, null), await sandbox.WaitAsync("done", "", CancellationToken.None));

        var wait = sandbox.WaitAsync("c1", "", CancellationToken.None);
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);
        vm.Kill();
        var end = await wait.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(RuntimeException.VmDeathStatus, end.Status);
        Assert.Equal("QEMU exited (status 137)", end.VmDeath);
    }

    [Fact]
    public async Task TearDownTellsTheAgentStopsTheVmAndRemovesTheState()
    {
        var sandbox = await StartAsync("c1");
        var state = sandbox.State.Path;
        Assert.True(Directory.Exists(state));
        await sandbox.TearDownAsync(keepLog: false);
        var calls = _vms.Single().Calls;
        Assert.True(calls.ToList().FindIndex(c => c.StartsWith("agent DestroySandbox", StringComparison.Ordinal)) < calls.ToList().IndexOf("dispose"), string.Join("\n", calls));
        Assert.False(Directory.Exists(state));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
