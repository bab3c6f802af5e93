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
        var failed = new HashSet<string>(StringComparer.Ordinal);
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
                    failed.Add(handler);
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

        if (args.Has("profile-handler") && !failed.Contains(args.Get("profile-handler")))
        {
            try
            {
                await ProfileAsync(cri, args.Get("profile-handler"), args.Int("profile-runs", 3), args.Get("dir"), samples);
            }
            catch (Exception e) when (e is Grpc.Core.RpcException or BenchException or IOException or TimeoutException)
            {
                Notes.Add(args, $"CPU profile of a CRI pod start, {args.Get("profile-handler")}: failed: {(e is Grpc.Core.RpcException r ? r.Status.Detail : e.Message)}");
            }
        }

        return 0;
    }

    /// <summary>How long perf gets to open its counters, and to answer a control command.</summary>
    private static readonly TimeSpan PerfWait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Pod starts of <paramref name="handler"/> under a system-wide <c>perf record</c> (its shim,
    /// QEMU, containerd and the CNI plugins are not the bench's children), counting only from the
    /// first call to the container running (perf starts disabled and is switched on and off
    /// through its control FIFO): whose CPU a pod start takes, as group "cpu-cri". The bench's
    /// own threads are left out.
    /// </summary>
    private static async Task ProfileAsync(Cri cri, string handler, int runs, string dir, string samples)
    {
        for (var i = 1; i <= runs; i++)
        {
            var data = Path.Combine(dir, $"perf-cri-{i}.data");
            var ctl = Path.Combine(dir, $"perf-cri-{i}.ctl");
            var ack = Path.Combine(dir, $"perf-cri-{i}.ack");
            CpuProfileCommand.Exec("mkfifo", [ctl, ack]);
            using var perf = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("perf",
                ["record", "-q", "-a", "-e", "cpu-clock", "-F", CpuProfileCommand.Hertz.ToString(System.Globalization.CultureInfo.InvariantCulture),
                 "-D", "-1", "--control", $"fifo:{ctl},{ack}", "-o", data])) ?? throw new BenchException("cannot run perf");
            TimeSpan elapsed;
            try
            {
                // Opening a FIFO waits for its other end: perf opens both once its counters are set up.
                using var control = await Task.Run(() => new StreamWriter(new FileStream(ctl, FileMode.Open, FileAccess.Write)) { AutoFlush = true }).WaitAsync(PerfWait);
                using var acks = await Task.Run(() => new StreamReader(new FileStream(ack, FileMode.Open, FileAccess.Read))).WaitAsync(PerfWait);
                async Task Command(string command)
                {
                    await control.WriteLineAsync(command);
                    // perf writes "ack\n" with its string's terminating NUL, which the next line then starts with.
                    if ((await acks.ReadLineAsync().WaitAsync(PerfWait))?.Trim('\0') != "ack")
                    {
                        throw new BenchException($"perf did not acknowledge {command}");
                    }
                }

                await Command("enable");
                string pod;
                try
                {
                    (pod, elapsed) = await cri.StartPodAsync(handler, $"profile-{handler}-{i}", "sleep", "3600");
                }
                finally
                {
                    await Command("disable");
                }

                await cri.RemovePodAsync(pod);
            }
            finally
            {
                CpuProfileCommand.Exec("kill", ["-INT", perf.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                using (var exit = new CancellationTokenSource(PerfWait))
                {
                    await perf.WaitForExitAsync(exit.Token);
                }

                File.Delete(ctl);
                File.Delete(ack);
            }

            try
            {
                var split = CpuSplit.Of(CpuProfileCommand.Exec("perf", CpuProfileCommand.ReportArgs(data, byPid: true)), excludePid: Environment.ProcessId);
                SampleFile.Append(samples, split.Select(kv => new Sample("cpu-cri", kv.Key, CpuSplit.PerPodStart, "ms", 0, kv.Value))
                    .Prepend(new Sample("cpu-cri", CpuSplit.Wall, CpuSplit.PerPodStart, "ms", 0, elapsed.TotalMilliseconds)));
                Console.WriteLine($"  CPU profile of a CRI pod start, {handler} {i}/{runs}: {elapsed.TotalMilliseconds:F0} ms, {split.Values.Sum():F0} ms of CPU");
            }
            finally
            {
                File.Delete(data);
            }
        }
    }
}
