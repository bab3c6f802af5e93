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
                var calls = new List<TimeSpan>();
                try
                {
                    (pod, elapsed) = await cri.StartPodAsync(handler, $"start-{handler}-{i}", calls, "sleep", "3600");
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
                    .Concat(calls.Select((t, c) => new Sample("cri-calls", handler, Cri.StartCalls[c], "ms", 0, t.TotalMilliseconds)))
                    .Prepend(new Sample("start-cri", handler, "pod start", "ms", 0, elapsed.TotalMilliseconds))
                    .Append(new Sample("idle-cpu", handler, "host CPU per idle pod, 1 pod", "ms/s", 1, idleCpu)));

                await cri.RemovePodAsync(pod);
                Console.WriteLine($"  CRI pod start {handler} {i + 1}/{runs}: {elapsed.TotalMilliseconds:F0} ms, idle PSS {pss.Sum():F1} MiB, idle CPU {idleCpu:F2} ms/s");
            }
        }

        if (args.Has("profile-handler"))
        {
            await ProfileAsync(cri, args.Get("profile-handler"), args.Int("profile-runs", 3), args.Get("dir"), samples);
        }

        return 0;
    }

    /// <summary>
    /// Pod starts of <paramref name="handler"/> under a system-wide <c>perf record</c> (its shim,
    /// QEMU, containerd and the CNI plugins are not the bench's children): whose CPU a pod start
    /// takes, as group "cpu-cri".
    /// </summary>
    private static async Task ProfileAsync(Cri cri, string handler, int runs, string dir, string samples)
    {
        for (var i = 1; i <= runs; i++)
        {
            var data = Path.Combine(dir, $"perf-cri-{i}.data");
            using var perf = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("perf",
                ["record", "-q", "-a", "-e", "cpu-clock", "-F", CpuProfileCommand.Hertz.ToString(System.Globalization.CultureInfo.InvariantCulture), "-o", data])
                { RedirectStandardError = true }) ?? throw new BenchException("cannot run perf");
            await Task.Delay(TimeSpan.FromSeconds(1)); // perf opens a counter per CPU before it records
            var (pod, elapsed) = await cri.StartPodAsync(handler, $"profile-{handler}-{i}", "sleep", "3600");
            CpuProfileCommand.Exec("kill", ["-INT", perf.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await perf.WaitForExitAsync();
            await cri.RemovePodAsync(pod);
            var split = CpuSplit.Of(CpuProfileCommand.Exec("perf", CpuProfileCommand.ReportArgs(data)));
            SampleFile.Append(samples, split.Select(kv => new Sample("cpu-cri", kv.Key, CpuSplit.PerPodStart, "ms", 0, kv.Value))
                .Prepend(new Sample("cpu-cri", CpuSplit.Wall, CpuSplit.PerPodStart, "ms", 0, elapsed.TotalMilliseconds)));
            File.Delete(data);
            Console.WriteLine($"  CPU profile of a CRI pod start, {handler} {i}/{runs}: {elapsed.TotalMilliseconds:F0} ms, {split.Values.Sum():F0} ms of CPU (the second before it included)");
        }
    }
}
