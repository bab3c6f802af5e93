namespace Moat.Bench;

/// <summary>
/// The host CPU idle pods cost: what their shim process trees run in a window of doing nothing.
/// A VM's guest timers wake its vCPU; under TCG each wake-up is emulated, so this is what limits
/// how many idle pods a host can hold before their starts slow down.
/// </summary>
internal static class IdleCpu
{
    /// <summary>
    /// Milliseconds of CPU per second of wall time, per pod, over <paramref name="window"/>. Counted
    /// thread by thread: a thread that ends within the window (an idle QEMU worker, a .NET pool
    /// thread) takes only its own share with it, never its whole life's CPU.
    /// </summary>
    public static async Task<double> PerPodAsync(IReadOnlyCollection<int> added, TimeSpan window)
    {
        var trees = Procs.ShimTrees(added);
        var pids = trees.Values.SelectMany(t => t).ToList();
        var before = pids.ToDictionary(p => p, Procs.CpuNsByThread);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(window);
        var elapsed = clock.Elapsed.TotalSeconds;
        long spentNs = 0;
        foreach (var pid in pids)
        {
            foreach (var (tid, ns) in Procs.CpuNsByThread(pid))
            {
                spentNs += ns - before[pid].GetValueOrDefault(tid);
            }
        }

        return trees.Count == 0 ? 0 : spentNs / 1e6 / elapsed / trees.Count;
    }
}
