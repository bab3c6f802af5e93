namespace Moat.Bench;

/// <summary>
/// The host CPU idle pods cost: what their shim process trees run in a window of doing nothing.
/// A VM's guest timers wake its vCPU; under TCG each wake-up is emulated, so this is what limits
/// how many idle pods a host can hold before their starts slow down.
/// </summary>
internal static class IdleCpu
{
    /// <summary>Milliseconds of CPU per second of wall time, per pod, over <paramref name="window"/>.</summary>
    public static async Task<double> PerPodAsync(IReadOnlyCollection<int> added, TimeSpan window)
    {
        var trees = Procs.ShimTrees(added);
        var pids = trees.Values.SelectMany(t => t).ToList();
        var before = pids.Sum(Procs.CpuNs);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(window);
        var spentMs = (pids.Sum(Procs.CpuNs) - before) / 1e6;
        return trees.Count == 0 ? 0 : spentMs / clock.Elapsed.TotalSeconds / trees.Count;
    }
}
