using Moat.Agent;

namespace Moat.Agent.Tests;

public sealed class GuestStatsTests
{
    private const string Meminfo = """
        MemTotal:         476196 kB
        MemFree:          391340 kB
        MemAvailable:     402120 kB
        Buffers:               0 kB
        Cached:            30564 kB
        SwapCached:            0 kB
        HugePages_Total:       0
        """;

    private const string Stat = """
        cpu  120 5 300 9000 40 7 11 0 0 0
        cpu0 60 5 150 4500 20 3 5 0 0 0
        intr 1234 0 0
        procs_running 2
        procs_blocked 1
        """;

    [Fact]
    public void MemoryComesInBytesAndCpuTimeIsGroupedByMode()
    {
        var m = GuestStats.Parse(Meminfo, Stat);
        Assert.Equal(476196UL * 1024, m.MemTotalBytes);
        Assert.Equal(391340UL * 1024, m.MemFreeBytes);
        Assert.Equal(402120UL * 1024, m.MemAvailableBytes);
        Assert.Equal(30564UL * 1024, m.PageCacheBytes);
        Assert.Equal(125UL, m.CpuUserTicks);    // user + nice of the all-CPU line, not cpu0's
        Assert.Equal(318UL, m.CpuSystemTicks);  // system + irq + softirq
        Assert.Equal(9040UL, m.CpuIdleTicks);   // idle + iowait
        Assert.Equal(3U, m.Processes);
    }

    [Fact]
    public void GarbageLeavesZerosRatherThanFailing()
    {
        var m = GuestStats.Parse("MemTotal: lots kB\n:\nCached\n", "cpu x y\nprocs_running -1\n");
        Assert.Equal(0UL, m.MemTotalBytes);
        Assert.Equal(0UL, m.CpuUserTicks);
        Assert.Equal(0U, m.Processes);
    }
}
