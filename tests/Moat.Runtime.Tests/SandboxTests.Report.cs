using Moat.Runtime.Metrics;
using Moat.Runtime.Tests.Fakes;

namespace Moat.Runtime.Tests;

/// <summary>What <c>moat monitor</c> learns of a sandbox (<see cref="Sandbox.ReportAsync"/>).</summary>
public sealed partial class SandboxTests
{
    [Fact]
    public async Task AReportHasTheVmsSizeItsContainersTheGuestsFiguresAndTheAgentCalls()
    {
        await using var sandbox = await StartAsync("c1", new ContainerLimits(300, 0));
        await sandbox.CreateContainerAsync("c1", new Moat.Oci.Spec(), stdin: false, CancellationToken.None);
        await sandbox.ResizeForAsync("c2", new ContainerLimits(400, 0), CancellationToken.None);

        var r = await sandbox.ReportAsync(TimeSpan.FromSeconds(5), CancellationToken.None);

        Assert.Equal(("c1", "tcg", false, 1), (r.Id, r.Accelerator, r.Restored, r.Containers));
        Assert.Equal(FakeHypervisor.FakePid, r.VmmPid);
        var plugged = long.Parse(_vms.Single().Calls.Single(c => c.StartsWith("hotplug memory", StringComparison.Ordinal)).Split(' ')[3]);
        Assert.True(plugged >= 400);
        Assert.Equal(plugged << 20, r.HotpluggedMemoryBytes);
        Assert.Equal((812 + plugged) << 20, r.MemoryBytes);
        Assert.True(r.StartSeconds > 0);
        Assert.Null(r.GuestError);
        Assert.Equal(new GuestUsage(400 << 20, 0, 300 << 20, 0, 2.5, 0.5, 0, 2), r.Guest);
        var calls = r.Rpcs.ToDictionary(m => m.Method);
        Assert.Equal(1UL, calls["CreateSandbox"].Latency.Count);
        Assert.Equal(1UL, calls["CreateContainer"].Latency.Count);
        Assert.Equal(0UL, calls["CreateContainer"].Errors);
        Assert.DoesNotContain("WaitProcess", calls.Keys); // a long poll is not a latency
    }

    [Fact]
    public async Task AWedgedGuestLeavesItsFiguresOutWithinTheDeadlineAndSaysWhy()
    {
        await using var sandbox = await StartAsync("c1");
        _vms.Single().GuestMetricsHang = true;
        var report = sandbox.ReportAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);
        // Bounded, not timed: the deadline is the shim's promise that one guest never holds up a scrape.
        Assert.Same(report, await Task.WhenAny(report, Task.Delay(TimeSpan.FromSeconds(5))));
        var r = await report;
        Assert.Null(r.Guest);
        Assert.Contains("GuestMetrics", r.GuestError);
        Assert.Equal(1UL, r.Rpcs.Single(m => m.Method == "GuestMetrics").Errors);
    }

    [Fact]
    public async Task EveryStartIsTalliedOnTheNodeByItsPath()
    {
        await using (await StartAsync("a"))
        {
        }
        await using (await StartAsync("b"))
        {
        }
        var starts = new NodeStarts(FakeVmOptions.In(_dir).NodeDir).Snapshot();
        var boot = starts[NodeStarts.BootPath];
        Assert.Equal(2UL, boot.Count);
        Assert.Equal(2UL, boot.BucketCounts.Aggregate(0UL, (a, b) => a + b)); // both fell in some bucket below a minute
        Assert.False(starts.ContainsKey(NodeStarts.TemplatePath));
    }
}
