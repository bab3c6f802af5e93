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

    [Fact]
    public void NoResourcesAddNothing()
    {
        Assert.Equal(0, Sandbox.LimitCpus(new Spec()));
        Assert.Equal(0, Sandbox.LimitMiB(new Spec()));
    }
}
