namespace Moat.Bench;

/// <summary>
/// cri-start: per handler, RUNS times start one pod (RunPodSandbox to container running), let it
/// idle, measure the PSS its processes added (and the shim's RSS, and for a VM where QEMU's PSS
/// and the shim's RSS go) and the host CPU it takes while idle, then remove it.
/// </summary>
internal static class CriStartCommand
{
    public static async Task<int> RunAsync(Args args)
    {
        using var cri = new Cri(args.Get("socket"));
        var samples = args.Get("samples");
        var runs = args.Int("runs", 10);
        var settle = TimeSpan.FromSeconds(args.Int("settle", 3));
        var idleWindow = TimeSpan.FromSeconds(args.Int("idle-window", 5));
        foreach (var handler in args.Get("handlers").Split(','))
        {
            for (var i = 0; i < runs; i++)
            {
                var memory = new PodMemory();
                string pod;
                TimeSpan elapsed;
                try
                {
                    (pod, elapsed) = await cri.StartPodAsync(handler, $"start-{handler}-{i}", "sleep", "3600");
                }
                catch (Grpc.Core.RpcException e)
                {
                    Notes.Add(args, $"CRI pod start, {handler}: failed, skipped: {e.Status.Detail}");
                    break;
                }

                await Task.Delay(settle);
                var (pss, shimRss, added) = memory.Measure();
                var idleCpu = await IdleCpu.PerPodAsync(added, idleWindow);
                SampleFile.Append(samples, pss.Select(p => new Sample("memory", handler, "PSS per pod, 1 pod", "MiB", 1, p))
                    .Concat(shimRss.Select(r => new Sample("memory", handler, "shim RSS", "MiB", 1, r)))
                    .Concat(added.Where(p => Procs.Comm(p).StartsWith("qemu-system", StringComparison.Ordinal))
                        .SelectMany(q => QemuMemory.Breakdown(q).Select(kv => new Sample("qemu-memory", kv.Key, "PSS", "MiB", 1, kv.Value))))
                    .Concat(added.Where(p => Procs.CommandLine(p).FirstOrDefault()?.Contains("containerd-shim-moat", StringComparison.Ordinal) == true)
                        .SelectMany(p => ShimMemory.Breakdown(p).Select(kv => new Sample("shim-memory", kv.Key, "RSS", "MiB", 1, kv.Value))))
                    .Prepend(new Sample("start-cri", handler, "pod start", "ms", 0, elapsed.TotalMilliseconds))
                    .Append(new Sample("idle-cpu", handler, "host CPU per idle pod, 1 pod", "ms/s", 1, idleCpu)));

                await cri.RemovePodAsync(pod);
                Console.WriteLine($"  CRI pod start {handler} {i + 1}/{runs}: {elapsed.TotalMilliseconds:F0} ms, idle PSS {pss.Sum():F1} MiB, idle CPU {idleCpu:F2} ms/s");
            }
        }

        return 0;
    }
}
