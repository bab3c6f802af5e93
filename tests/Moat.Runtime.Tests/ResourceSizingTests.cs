using Moat.Oci;
using Xunit;

namespace Moat.Runtime.Tests;

public sealed class ResourceSizingTests
{
    private static Spec WithCpu(long? quota, ulong? period) =>
        new() { Linux = new Moat.Oci.Linux { Resources = new LinuxResources { Cpu = new LinuxCpu { Quota = quota, Period = period } } } };

    [Theory]
    [InlineData(200000L, 100000UL, 2)]
    [InlineData(150000L, 100000UL, 2)] // 1.5 CPUs need a second vCPU
    [InlineData(50000L, 100000UL, 1)]
    [InlineData(-1L, 100000UL, 0)]     // no limit
    [InlineData(100000L, 0UL, 0)]
    [InlineData(null, 100000UL, 0)]
    public void CpuLimitAddsQuotaOverPeriodRoundedUp(long? quota, ulong? period, int cpus) =>
        Assert.Equal(cpus, ContainerLimits.Of(WithCpu(quota, period)).Cpus);

    [Theory]
    [InlineData(1, 0, 0)]  // 0: the host's CPUs
    [InlineData(1, 3, 3)]
    [InlineData(4, 2, 4)]  // never below the boot count
    public void VcpuCeilingIsMaxVcpusOrTheHostsCpus(int vcpus, int maxVcpus, int expected)
    {
        var ceiling = new RuntimeOptions { Vcpus = vcpus, MaxVcpus = maxVcpus }.VcpuCeiling;
        Assert.Equal(maxVcpus == 0 ? Math.Max(vcpus, Environment.ProcessorCount) : expected, ceiling);
    }

    [Fact]
    public void NoResourcesAddNothing()
    {
        Assert.Equal(default, ContainerLimits.Of(new Spec()));
    }

    private static VmSizing Pod(int maxMemoryMiB = 4096, int ceiling = 8) => new("pod1", baseMemoryMiB: 256, baseVcpus: 1, maxMemoryMiB, ceiling);

    [Fact]
    public void APodsVmIsItsConfiguredSizePlusEveryContainersLimits()
    {
        var sizing = Pod();
        sizing.Record("pause", default);
        sizing.Record("app", new ContainerLimits(512, 2));
        Assert.Equal((256 + 512 + 100, 1 + 2 + 1), sizing.TargetWith("sidecar", new ContainerLimits(100, 1)));
        // An update replaces the container's own share, it does not add to it.
        Assert.Equal((256 + 1024, 1 + 3), sizing.TargetWith("app", new ContainerLimits(1024, 3)));
        sizing.Forget("app");
        Assert.Equal((256, 1), sizing.TargetWith("pause", default));
    }

    [Fact]
    public void VcpusStopAtTheCeilingWhileMemoryGrowsInWholeBlocks()
    {
        var sizing = Pod(ceiling: 2);
        Assert.Equal(2, sizing.TargetWith("a", new ContainerLimits(0, 16)).Vcpus);
        Assert.Equal(0, sizing.MemoryToAdd(512, 400));
        Assert.Equal(128, sizing.MemoryToAdd(512, 513));
        Assert.Equal(256, sizing.MemoryToAdd(512, 700));
    }

    [Fact]
    public void GrowingBeyondTheMaximumIsRefusedNamingTheSetting()
    {
        var sizing = Pod(maxMemoryMiB: 1024);
        var e = Assert.Throws<RuntimeException>(() => sizing.MemoryToAdd(1024, 1100));
        Assert.Equal(RuntimeErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("pod1", e.Message);
        Assert.Contains("hypervisor.max_memory_mib", e.Message);
        Assert.Equal(256, new VmSizing("p", 256, 1, maxMemoryMiB: 0, 1).MaxMemoryMiB); // never below the configured size
    }

    [Fact]
    public void WhetherAVmCanGrowToASizeCountsWholeBlocksAgainstTheMaximum()
    {
        var sizing = Pod(maxMemoryMiB: 1024);
        Assert.True(sizing.CanGrow(512, 400)); // nothing to add
        Assert.True(sizing.CanGrow(512, 1024)); // four blocks: exactly the maximum
        Assert.False(sizing.CanGrow(512, 1025)); // a fifth block would pass it
        Assert.False(sizing.CanGrow(960, 1000)); // 960 + 128
        var e = Assert.Throws<RuntimeException>(() => sizing.MemoryToAdd(512, 640, slotsUsed: Moat.Hypervisor.QemuCommandLine.MemoryHotplugSlots));
        Assert.Contains("memory hotplug slots", e.Message);
        Assert.Equal(0, sizing.MemoryToAdd(512, 500, slotsUsed: Moat.Hypervisor.QemuCommandLine.MemoryHotplugSlots)); // nothing to add needs no slot
    }

    [Fact]
    public void AnUpdateKeepsWhatItLeavesOut()
    {
        var limits = new ContainerLimits(512, 2);
        Assert.Equal(limits, limits.With(null));
        Assert.Equal(new ContainerLimits(1024, 2), limits.With(new LinuxResources { Memory = new LinuxMemory { Limit = 1L << 30 } }));
        Assert.Equal(new ContainerLimits(512, 3), limits.With(new LinuxResources { Cpu = new LinuxCpu { Quota = 250000, Period = 100000 } }));
        Assert.Equal(new ContainerLimits(2, 0), ContainerLimits.Of(new LinuxResources { Memory = new LinuxMemory { Limit = (1L << 20) + 1 } }));
    }
}
