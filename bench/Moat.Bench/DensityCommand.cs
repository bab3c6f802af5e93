using System.Collections.Concurrent;

namespace Moat.Bench;

/// <summary>
/// density: start idle pods one after another up to MAX, recording after each the PSS per pod, the
/// host memory used since the first and the start latency. It stops early, before the OOM killer
/// could decide anything, when the next pod would take MemAvailable below MIN-AVAILABLE percent of
/// MemTotal, or when a start fails. At MEMORY-AT pods it also records each pod's PSS, each
/// shim's RSS, where each QEMU's PSS goes, for the memory table, and the host CPU the idle pods
/// take. All pods are removed at the end.
/// </summary>
internal static class DensityCommand
{
    public static async Task<int> RunAsync(Args args)
    {
        using var cri = new Cri(args.Get("socket"));
        var samples = args.Get("samples");
        var handler = args.Get("handler");
        var max = args.Int("max", 100);
        var memoryAt = args.Int("memory-at", 20);
        var floorPercent = args.Int("min-available", 25);
        var settle = TimeSpan.FromSeconds(args.Int("settle", 2));
        var idleSettle = TimeSpan.FromSeconds(args.Int("idle-settle", 5));
        var idleWindow = TimeSpan.FromSeconds(args.Int("idle-window", 10));
        var memory = new PodMemory();
        var (total, available0) = Procs.Memory();
        var pods = new List<string>();
        double lastCostKiB = 0;
        long availablePrev = available0;
        string stop = $"reached {max} pods";
        try
        {
            for (var n = 1; n <= max; n++)
            {
                var (_, available) = Procs.Memory();
                if (available - lastCostKiB < total * floorPercent / 100.0)
                {
                    stop = $"stopped before pod {n}: MemAvailable {available / 1024} MiB less the last pod's {lastCostKiB / 1024:F0} MiB would fall below {floorPercent}% of MemTotal";
                    break;
                }

                TimeSpan elapsed;
                try
                {
                    string pod;
                    (pod, elapsed) = await cri.StartPodAsync(handler, $"density-{handler}-{n}", "sleep", "36000");
                    pods.Add(pod);
                }
                catch (Grpc.Core.RpcException e)
                {
                    stop = $"stopped at pod {n}: start failed: {e.Status.Detail}";
                    break;
                }

                await Task.Delay(settle);
                var (pss, shimRss, added) = memory.Measure();
                var (_, availableNow) = Procs.Memory();
                lastCostKiB = Math.Max(0, availablePrev - availableNow);
                availablePrev = availableNow;
                var usedMiB = (available0 - availableNow) / 1024.0;
                SampleFile.Append(samples,
                [
                    new Sample("density", handler, "pod start", "ms", n, elapsed.TotalMilliseconds),
                    new Sample("density", handler, "PSS per pod", "MiB", n, pss.Sum() / n),
                    new Sample("density", handler, "host memory used", "MiB", n, usedMiB),
                ]);
                if (n == memoryAt)
                {
                    SampleFile.Append(samples, pss.Select(p => new Sample("memory", handler, $"PSS per pod, {n} pods", "MiB", n, p)));
                    SampleFile.Append(samples, shimRss.Select(r => new Sample("memory", handler, $"shim RSS, {n} pods", "MiB", n, r)));
                    // Where each VM's QEMU PSS goes once the node's file pages divide among n pods.
                    SampleFile.Append(samples, added.Where(p => Procs.Comm(p).StartsWith("qemu-system", StringComparison.Ordinal))
                        .SelectMany(q => QemuMemory.Breakdown(q).Select(kv => new Sample("qemu-memory-many", kv.Key, $"PSS, {n} pods", "MiB", n, kv.Value))));
                    await Task.Delay(idleSettle); // the last pod's start is over, so all n idle
                    SampleFile.Append(samples, [new Sample("idle-cpu", handler, $"host CPU per idle pod, {n} pods", "ms/s", n,
                        await IdleCpu.PerPodAsync(added, idleWindow))]);
                }

                Console.WriteLine($"  density {handler}: {n} pods, start {elapsed.TotalMilliseconds:F0} ms, PSS/pod {pss.Sum() / n:F1} MiB, host used {usedMiB:F0} MiB");
            }
        }
        finally
        {
            Notes.Add(args, $"density, {handler}: {stop}.");
            await RemoveAllAsync(cri, pods);
        }

        return 0;
    }

    private static async Task RemoveAllAsync(Cri cri, List<string> pods)
    {
        var queue = new ConcurrentQueue<string>(pods);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (queue.TryDequeue(out var pod))
            {
                await cri.RemovePodAsync(pod);
            }
        }));
    }
}
