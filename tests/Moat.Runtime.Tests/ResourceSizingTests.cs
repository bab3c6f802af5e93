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
        Assert.Equal(cpus, Sandbox.LimitCpus(WithCpu(quota, period)));

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
        Assert.Equal(0, Sandbox.LimitCpus(new Spec()));
        Assert.Equal(0, Sandbox.LimitMiB(new Spec()));
    }
}
