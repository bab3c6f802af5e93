using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Moat.Bench;

/// <summary>
/// report: turns DIR/samples.csv (and machine.md, notes.txt) into report.md, summary.csv,
/// results.json and the PNG charts, all in DIR.
/// </summary>
internal static class ReportCommand
{
    private const string Bare = "bare QEMU boot";

    // Issue 17's targets, shared by the targets table and the lines on why a target misses.
    private const int DensityPods = 250;
    private const double CliAllowanceMs = 250, CtrAllowanceMs = 300, CriAllowanceMs = 500;
    private const double PssOnePodMiB = 60, PssManyPodsMiB = 40, ShimRssMiB = 10;

    /// <summary>The I/O targets that measure Moat against the VM's own ceiling (its efficiency), for the table and the why.</summary>
    private static List<(string What, double? Value, double? Of, string OfName, double Limit)> IoEfficiencies(Lookup r)
    {
        double? W(string metric) => r.Median("workload", "moat", metric);
        return
        [
            ("share efficiency: a host-written file read 3× vs the same bytes from the guest's tmpfs ≥ 0.7", W("share read"), W("tmpfs read"), "tmpfs", 0.7),
            ("small-file operations: rootfs vs the guest's tmpfs ≥ 0.5", W("small file ops"), W("tmpfs small file ops"), "tmpfs", 0.5),
            ("stdout, MiB/s: vs the same dd to /dev/null in the guest ≥ 0.5", W("stdout"), W("devnull"), "/dev/null", 0.5),
        ];
    }

    private static bool Missed((string What, double? Value, double? Of, string OfName, double Limit) t) =>
        t.Value is { } v && t.Of is { } c && c > 0 && v / c < t.Limit;

    public static int Run(Args args)
    {
        var dir = args.Get("dir");
        var samples = SampleFile.Read(Path.Combine(dir, "samples.csv"));
        var stats = samples.GroupBy(s => (s.Group, s.Case, s.Metric, s.Unit))
            .ToDictionary(g => g.Key, g => Stats.Of(g.Select(s => s.Value)));
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# Moat benchmark report — {File.GetLastWriteTimeUtc(Path.Combine(dir, "samples.csv")):yyyy-MM-dd HH:mm} UTC");
        md.AppendLine();
        md.AppendLine(args.Get("mode", "full run"));
        md.AppendLine();
        md.Append(ReadOr(Path.Combine(dir, "machine.md"), ""));
        md.AppendLine();
        md.AppendLine("All figures below come from this one run; every ratio is between two of them. Raw samples: `samples.csv`, `results.json`; min/median/max: `summary.csv`.");
        md.AppendLine();

        var r = new Lookup(stats);
        Targets(md, r, samples);
        var notes = ReadOr(Path.Combine(dir, "notes.txt"), "");
        Why(md, r, samples, notes);
        Start(md, r, dir);
        Profile(md, samples, dir);
        CpuProfile(md, r, samples, "cpu", CpuSplit.PerStart, "`perf record -e cpu-clock` of `moat run` of /bin/true");
        CpuProfile(md, r, samples, "cpu-cri", CpuSplit.PerPodStart, "`perf record -a -e cpu-clock` of a Moat CRI pod start, RunPodSandbox to the container running: every process on the host but the bench's");
        Memory(md, r, dir);
        IdleHostCpu(md, r);
        Density(md, samples, dir);
        Workload(md, r, dir);
        IoProfile(md, r);
        if (notes.Length > 0)
        {
            md.AppendLine("## Notes from the run");
            md.AppendLine();
            foreach (var line in notes.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- {line}");
            }

            md.AppendLine();
        }

        File.WriteAllText(Path.Combine(dir, "report.md"), md.ToString());
        File.WriteAllLines(Path.Combine(dir, "summary.csv"), stats.Select(kv => string.Join(',',
            Csv(kv.Key.Group), Csv(kv.Key.Case), Csv(kv.Key.Metric), Csv(kv.Key.Unit), kv.Value.Count.ToString(CultureInfo.InvariantCulture),
            F(kv.Value.Min), F(kv.Value.Median), F(kv.Value.Max))).Prepend("group,case,metric,unit,n,min,median,max"));
        File.WriteAllText(Path.Combine(dir, "results.json"), JsonSerializer.Serialize(new
        {
            machine = ReadOr(Path.Combine(dir, "machine.md"), "").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimStart('-', ' ')).ToArray(),
            summary = stats.Select(kv => new { kv.Key.Group, kv.Key.Case, kv.Key.Metric, kv.Key.Unit, kv.Value.Count, kv.Value.Min, kv.Value.Median, kv.Value.Max }),
            samples,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"report: {Path.Combine(dir, "report.md")}");
        return 0;
    }

    /// <summary>Issue 17's targets: start against runc, memory per pod, density, and I/O against the ceiling the VM itself sets.</summary>
    private static void Targets(StringBuilder md, Lookup r, List<Sample> samples)
    {
        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("| target | measured (medians) | result |");
        md.AppendLine("|---|---|---|");
        void Missing(string what) => md.AppendLine(CultureInfo.InvariantCulture, $"| {what} | not measured in this run | — |");

        // Moat's median at most runc's plus a fixed allowance.
        void OverRunc(string what, string group, string metric, double allowanceMs)
        {
            if (r.Median(group, "moat", metric) is not { } v || r.Median(group, "runc", metric) is not { } b)
            {
                Missing(what);
                return;
            }

            var over = v - b - allowanceMs;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {what} | {F(v)} ms vs runc {F(b)} ms: +{F(v - b)} ms | {(over <= 0 ? "met" : $"**missed** by {F(over)} ms")} |");
        }

        // One of Moat's figures as a share of another (its ceiling, or runc's).
        void Share(string what, double? value, double? of, string ofName, double? limit)
        {
            if (value is not { } v || of is not { } c || c <= 0)
            {
                Missing(what);
                return;
            }

            var ratio = v / c;
            var result = limit is not { } l ? "reported" : ratio >= l ? "met" : $"**missed**, {(l - ratio) * 100:F0} points short";
            md.AppendLine(CultureInfo.InvariantCulture, $"| {what} | {F(v)} vs {ofName} {F(c)}: {ratio:F2} | {result} |");
        }

        void Limit(string what, double? value, double limit, string unit)
        {
            md.AppendLine(value is { } v
                ? string.Create(CultureInfo.InvariantCulture, $"| {what} | {F(v)} {unit} | {(v <= limit ? "met" : $"**missed** by {F(v - limit)} {unit} ({v / limit:F1}×)")} |")
                : $"| {what} | not measured in this run | — |");
        }

        double? W(string @case, string metric) => r.Median("workload", @case, metric);

        OverRunc($"CLI `moat run` of /bin/true ≤ runc + {CliAllowanceMs} ms", "start-cli", "time", CliAllowanceMs);
        OverRunc($"`ctr run --rm` /bin/true ≤ runc + {CtrAllowanceMs} ms", "start-ctr", "time", CtrAllowanceMs);
        OverRunc($"CRI pod start ≤ runc + {CriAllowanceMs} ms", "start-cri", "pod start", CriAllowanceMs);
        if (r.Get("start-cri", "moat", "pod start") is { } pod)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| CRI pod start: max ≤ 2× median | max {F(pod.Max)} ms, median {F(pod.Median)} ms: {pod.Max / pod.Median:F2}× | {(pod.Max <= 2 * pod.Median ? "met" : $"**missed** by {F(pod.Max - 2 * pod.Median)} ms")} |");
        }
        else
        {
            Missing("CRI pod start: max ≤ 2× median");
        }

        Limit($"PSS per idle Moat pod, 1 pod ≤ {PssOnePodMiB} MiB", r.Median("memory", "moat", "PSS per pod, 1 pod"), PssOnePodMiB, "MiB");
        var many = samples.Where(s => s.Group == "memory" && s.Case == "moat" && s.Metric.StartsWith("PSS per pod, ", StringComparison.Ordinal) && s.X > 1).Select(s => s.Metric).FirstOrDefault();
        Limit($"PSS per idle Moat pod, {(many ?? "PSS per pod, 20 pods")["PSS per pod, ".Length..]} ≤ {PssManyPodsMiB} MiB", many is null ? null : r.Median("memory", "moat", many), PssManyPodsMiB, "MiB");
        var density = samples.Where(s => s.Group == "density" && s.Case == "moat").Select(s => s.X).ToList();
        var reached = density.DefaultIfEmpty(0).Max();
        md.AppendLine(density.Count == 0
            ? $"| {DensityPods} idle Moat pods on this machine (MemAvailable ≥ 25%) | not measured in this run | — |"
            : string.Create(CultureInfo.InvariantCulture, $"| {DensityPods} idle Moat pods on this machine (MemAvailable ≥ 25%) | {reached:F0} pods | {(reached >= DensityPods ? "met" : $"**missed** by {DensityPods - reached:F0} pods")} |"));
        Share("rootfs sequential write, MiB/s vs runc (report; KVM hosts ≥ 0.8)", W("moat", "rootfs seq write"), W("runc", "rootfs seq write"), "runc", null);
        Share("rootfs sequential read, MiB/s vs runc (report; KVM hosts ≥ 0.5)", W("moat", "rootfs seq read"), W("runc", "rootfs seq read"), "runc", null);
        foreach (var t in IoEfficiencies(r))
        {
            Share(t.What, t.Value, t.Of, t.OfName, t.Limit);
        }

        Share("stdout vs runc (report)", W("moat", "stdout"), W("runc", "stdout"), "runc", null);
        Share("network pod → host, MiB/s: vs the pod's own loopback ≥ 0.5", W("moat", "network pod to host"), W("moat", "network pod loopback"), "loopback", 0.5);
        Share("network host → pod, MiB/s: vs the pod's own loopback ≥ 0.5", W("moat", "network host to pod"), W("moat", "network pod loopback"), "loopback", 0.5);
        Limit($"Moat shim daemon RSS ≤ {ShimRssMiB} MiB", r.Median("memory", "moat", "shim RSS"), ShimRssMiB, "MiB");
        md.AppendLine();
    }

    private static void Start(StringBuilder md, Lookup r, string dir)
    {
        md.AppendLine("## Start latency");
        md.AppendLine();
        var bare = r.Median("start-bare", Bare, "time");
        var groups = new[]
        {
            ("start-ctr", "ctr run --rm busybox /bin/true, per runtime", "start-ctr.png"),
            ("start-cli", "CLI run of a bundle (/bin/true), per runtime", "start-cli.png"),
            ("start-cri", "CRI pod start: RunPodSandbox to container running", "start-cri.png"),
            ("start-shim", "containerd-shim-moat-v2 start, until it prints its address", null),
        };
        foreach (var (group, title, png) in groups)
        {
            var rows = r.Rows(group);
            if (rows.Count == 0)
            {
                continue;
            }

            md.AppendLine(CultureInfo.InvariantCulture, $"### {title}");
            md.AppendLine();
            md.AppendLine("| case | n | min (ms) | median (ms) | max (ms) | median / bare QEMU boot |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|");
            var chart = new List<(string, Stats)>();
            if (png is not null && r.Get("start-bare", Bare, "time") is { } b)
            {
                rows = rows.Prepend((Bare, b)).ToList();
            }

            foreach (var (name, s) in rows)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {s.Count} | {F(s.Min)} | {F(s.Median)} | {F(s.Max)} | {(bare is { } bb ? (s.Median / bb).ToString("F2", CultureInfo.InvariantCulture) : "—")} |");
                chart.Add((name, s));
            }

            md.AppendLine();
            if (png is not null)
            {
                Charts.MinMedianMax(Path.Combine(dir, png), title, "ms", chart);
                md.AppendLine(CultureInfo.InvariantCulture, $"![{title}]({png})");
                md.AppendLine();
            }

            if (group == "start-cri")
            {
                CriCalls(md, r);
            }
        }
    }

    /// <summary>Each CRI call of a pod start (bench cri-start), medians per runtime.</summary>
    private static void CriCalls(StringBuilder md, Lookup r)
    {
        var handlers = r.RowsWithMetric("cri-calls").Select(x => x.Key.Case).Distinct().ToList();
        if (handlers.Count == 0)
        {
            return;
        }

        md.AppendLine("#### The same pod starts, call by call (medians, ms)");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"| case | {string.Join(" | ", Cri.StartCalls)} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"|---|{string.Concat(Cri.StartCalls.Select(_ => "---:|"))}");
        foreach (var h in handlers)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {h} | {string.Join(" | ", Cri.StartCalls.Select(c => r.Median("cri-calls", h, c) is { } v ? F(v) : "—"))} |");
        }

        md.AppendLine();
        md.AppendLine("RunPodSandbox is containerd's CNI set-up, then the pod's sandbox (pause) container created and started: for Moat, the VM. CreateContainer is containerd's snapshot and spec only. StartContainer creates the container's task (for Moat, in the guest) and starts it.");
        md.AppendLine();
    }

    /// <summary>The phases of `moat --debug run` (bench phases), in the order a start passes them.</summary>
    private static List<(string Phase, Stats Stats)> Phases(List<Sample> samples) =>
        samples.Where(s => s.Group == "profile" && !s.Case.StartsWith("console log", StringComparison.Ordinal))
            .GroupBy(s => s.Case).OrderBy(g => g.Min(s => s.X)).Select(g => (g.Key, Stats.Of(g.Select(s => s.Value)))).ToList();

    private static void Profile(StringBuilder md, List<Sample> samples, string dir)
    {
        var phases = Phases(samples);
        if (phases.Count == 0)
        {
            return;
        }

        md.AppendLine("### Where Moat's start goes (`moat --debug run`, foreground)");
        md.AppendLine();
        md.AppendLine("| phase | median since moat started (ms) | median step (ms) |");
        md.AppendLine("|---|---:|---:|");
        double previous = 0;
        var steps = new List<(string, double, double)>();
        foreach (var (phase, s) in phases)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {phase} | {F(s.Median)} | {F(s.Median - previous)} |");
            steps.Add((phase, previous, s.Median));
            previous = s.Median;
        }

        md.AppendLine();
        Charts.Waterfall(Path.Combine(dir, "start-waterfall.png"), "Where Moat's start goes (moat --debug run)", "ms", steps);
        md.AppendLine("![Where Moat's start goes](start-waterfall.png)");
        md.AppendLine();
    }

    private static void Memory(StringBuilder md, Lookup r, string dir)
    {
        var rows = r.Rows("memory");
        if (rows.Count == 0)
        {
            return;
        }

        md.AppendLine("## Memory");
        md.AppendLine();
        md.AppendLine("Host PSS (sum of `Pss` in `/proc/PID/smaps_rollup`) of every process a pod added: its shim and everything below it (QEMU for Moat; pause and the container for runc and crun; the gVisor sandbox and gofer for runsc). Idle pods run `sleep`.");
        md.AppendLine();
        var memory = r.RowsWithMetric("memory");
        FigureTable(md, memory, "MiB");
        var chart = memory.Where(m => m.Key.Metric.StartsWith("PSS", StringComparison.Ordinal))
            .Select(m => ($"{m.Key.Case}, {m.Key.Metric["PSS per pod, ".Length..]}", m.Stats)).ToList();

        md.AppendLine();
        if (chart.Count > 0)
        {
            Charts.MinMedianMax(Path.Combine(dir, "memory.png"), "Host PSS per idle pod", "MiB", chart);
            md.AppendLine("![Host PSS per idle pod](memory.png)");
            md.AppendLine();
        }

        QemuTable(md, "1 pod", r.Rows("qemu-memory"));
        foreach (var g in r.RowsWithMetric("qemu-memory-many").GroupBy(x => x.Key.Metric))
        {
            QemuTable(md, g.Key["PSS, ".Length..], g.Select(x => (x.Key.Case, x.Stats)).ToList());
        }

        var shim = r.Rows("shim-memory");
        if (shim.Count > 0)
        {
            md.AppendLine("### Where the Moat shim daemon's RSS goes (1 pod)");
            md.AppendLine();
            md.AppendLine("| mapping | median RSS (MiB) |");
            md.AppendLine("|---|---:|");
            foreach (var (name, s) in shim.OrderByDescending(q => q.Stats.Median))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {F(s.Median)} |");
            }

            md.AppendLine();
        }
    }

    private static void IdleHostCpu(StringBuilder md, Lookup r)
    {
        var rows = r.RowsWithMetric("idle-cpu");
        if (rows.Count == 0)
        {
            return;
        }

        md.AppendLine("## Host CPU of idle pods");
        md.AppendLine();
        md.AppendLine("What every thread of a pod's shim process tree ran (`/proc/PID/task/*/schedstat`) while the pod idled, per second of wall time and per pod. A VM's idle cost is its guest's wake-ups: each one runs the vCPU, and under TCG it is emulated. It is what slows starts down once many pods idle on a small host.");
        md.AppendLine();
        FigureTable(md, rows, "ms/s");

        md.AppendLine();
    }

    /// <summary>One row per runtime and figure: n, min, median, max in <paramref name="unit"/>.</summary>
    private static void FigureTable(StringBuilder md, List<((string Case, string Metric) Key, Stats Stats, string Unit)> rows, string unit)
    {
        md.AppendLine(CultureInfo.InvariantCulture, $"| runtime | figure | n | min ({unit}) | median ({unit}) | max ({unit}) |");
        md.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var ((runtime, metric), s, _) in rows)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {runtime} | {metric} | {s.Count} | {F(s.Min)} | {F(s.Median)} | {F(s.Max)} |");
        }
    }

    private static void QemuTable(StringBuilder md, string pods, List<(string Name, Stats Stats)> qemu)
    {
        if (qemu.Count == 0)
        {
            return;
        }

        md.AppendLine(CultureInfo.InvariantCulture, $"### Where an idle Moat VM's QEMU PSS goes ({pods})");
        md.AppendLine();
        md.AppendLine("| mapping | median PSS (MiB) | private to the pod? |");
        md.AppendLine("|---|---:|---|");
        foreach (var (name, s) in qemu.OrderByDescending(q => q.Stats.Median))
        {
            var shared = name switch
            {
                QemuMemory.Kernel or QemuMemory.Initrd or QemuMemory.Binaries or QemuMemory.TemplateRam => "no: a file mapping in the page cache, its PSS divides among all pods",
                QemuMemory.TcgBuffer => "yes: anonymous memory, only under TCG (the guest's code translated for the host; a KVM VM has none)",
                _ => "yes: anonymous memory",
            };
            md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {F(s.Median)} | {shared} |");
        }

        md.AppendLine();
    }

    /// <summary>Who spent a start's CPU time (bench cpu-profile, or cri-start's profile), medians per start.</summary>
    private static void CpuProfile(StringBuilder md, Lookup r, List<Sample> samples, string group, string metric, string how)
    {
        var rows = r.Rows(group).Where(c => c.Name != CpuSplit.Wall).OrderByDescending(c => c.Stats.Median).ToList();
        if (rows.Count == 0)
        {
            return;
        }

        var n = samples.Count(s => s.Group == group && s.Case == CpuSplit.Wall);
        md.AppendLine(CultureInfo.InvariantCulture, $"### Where a start's CPU time goes ({how}, {n} runs)");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"A start took {F(r.Median(group, CpuSplit.Wall, metric) ?? 0)} ms (median) under perf. QEMU's threads and the host's processes run side by side on its cores, so their CPU times add up to more than the wall time.");
        md.AppendLine();
        md.AppendLine("| who | median CPU per start (ms) |");
        md.AppendLine("|---|---:|");
        foreach (var (name, s) in rows)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {F(s.Median)} |");
        }

        md.AppendLine();
    }

    /// <summary>Each I/O workload's CPU split (bench cpu-profile --group cpu-io), medians per run.</summary>
    private static List<(string Workload, double Wall, double Vcpu, double Tcg, double Guest, double Kernel, double Main, double Workers, double Moat)> IoCpu(Lookup r) =>
        r.RowsWithMetric("cpu-io").Select(x => x.Key.Metric).Distinct().Select(m =>
        {
            double C(string c) => r.Median("cpu-io", c, m) ?? 0;
            return (m, C(CpuSplit.Wall), C(CpuSplit.Tcg) + C(CpuSplit.GuestCode) + C(CpuSplit.VcpuKernel), C(CpuSplit.Tcg), C(CpuSplit.GuestCode), C(CpuSplit.VcpuKernel),
                C(CpuSplit.QemuMain), C(CpuSplit.QemuWorkers), C(CpuSplit.Moat));
        }).ToList();

    private static void IoProfile(StringBuilder md, Lookup r)
    {
        var io = IoCpu(r);
        if (io.Count == 0)
        {
            return;
        }

        md.AppendLine("### Where Moat's I/O time goes (`perf record -e cpu-clock` of each workload alone in a foreground `moat run`)");
        md.AppendLine();
        md.AppendLine("Medians per run, ms of CPU. The vCPU thread's time is the guest's own work as TCG emulates it; the rest is the path out of the VM. A foreground `moat run` copies the container's stdout itself; through `ctr` the shim copies it to containerd's FIFO.");
        md.AppendLine();
        md.AppendLine("| workload | wall | vCPU: TCG | vCPU: guest code | vCPU: host kernel | QEMU main loop | QEMU workers | Moat |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var w in io)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {w.Workload} | {F(w.Wall)} | {F(w.Tcg)} | {F(w.Guest)} | {F(w.Kernel)} | {F(w.Main)} | {F(w.Workers)} | {F(w.Moat)} |");
        }

        md.AppendLine();
    }

    /// <summary>For each missed target with a profile in this run, what the profile says the time or memory went to.</summary>
    private static void Why(StringBuilder md, Lookup r, List<Sample> samples, string notes)
    {
        var lines = new List<string>();
        double? Over(string group, string metric, double allowance) =>
            r.Median(group, "moat", metric) is { } v && r.Median(group, "runc", metric) is { } b ? v - b - allowance : null;
        var startMissed = new[] { Over("start-cli", "time", CliAllowanceMs), Over("start-ctr", "time", CtrAllowanceMs), Over("start-cri", "pod start", CriAllowanceMs) }.Any(o => o > 0);
        if (startMissed)
        {
            var phases = Phases(samples);
            if (phases.Count > 0)
            {
                var previous = 0.0;
                var steps = new List<string>();
                foreach (var (phase, stats) in phases)
                {
                    var median = stats.Median;
                    if (median - previous >= 10)
                    {
                        steps.Add(string.Create(CultureInfo.InvariantCulture, $"{phase} +{F(median - previous)}"));
                    }

                    previous = median;
                }

                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"**Start** (`moat --debug run`, medians, in ms): {string.Join("; ", steps)}. Everything after \"VM started\" is the guest's work and the round trips to it."));
            }

            double Cpu(string c) => r.Median("cpu", c, CpuSplit.PerStart) ?? 0;
            if (r.Median("cpu", CpuSplit.Wall, CpuSplit.PerStart) is { } wall)
            {
                var vcpu = Cpu(CpuSplit.Tcg) + Cpu(CpuSplit.GuestCode) + Cpu(CpuSplit.VcpuKernel);
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"**Start, CPU** (`perf`, medians per start of {F(wall)} ms): the VM's one vCPU thread was busy {F(vcpu)} ms: {F(Cpu(CpuSplit.Tcg))} in QEMU's TCG (translating the code a restored clone runs for the first time, and emulating its memory accesses), {F(Cpu(CpuSplit.GuestCode))} running the translated guest code, {F(Cpu(CpuSplit.VcpuKernel))} in the host kernel. QEMU's other threads took {F(Cpu(CpuSplit.QemuMain) + Cpu(CpuSplit.QemuWorkers))} ms, Moat's own host code {F(Cpu(CpuSplit.Moat))} ms. Software emulation of the guest is most of the start; on a KVM host TCG's part is not there."));
            }
        }

        if (Over("start-cri", "pod start", CriAllowanceMs) > 0 && r.Median("cri-calls", "moat", Cri.StartCalls[0]) is not null)
        {
            string Calls(string h) => string.Join(", ", Cri.StartCalls.Select(c => $"{c} {F(r.Median("cri-calls", h, c) ?? 0)}"));
            var line = string.Create(CultureInfo.InvariantCulture, $"**CRI pod start** (medians, ms): Moat's {Calls("moat")}; runc's {Calls("runc")}.");
            double Cpu(string c) => r.Median("cpu-cri", c, CpuSplit.PerPodStart) ?? 0;
            if (r.Median("cpu-cri", CpuSplit.Wall, CpuSplit.PerPodStart) is { } wall)
            {
                line += string.Create(CultureInfo.InvariantCulture,
                    $" Its CPU (`perf -a`, medians per pod start of {F(wall)} ms): the VM's vCPU thread {F(Cpu(CpuSplit.Tcg) + Cpu(CpuSplit.GuestCode) + Cpu(CpuSplit.VcpuKernel))} (TCG {F(Cpu(CpuSplit.Tcg))}, guest code {F(Cpu(CpuSplit.GuestCode))}, host kernel {F(Cpu(CpuSplit.VcpuKernel))}), QEMU's other threads {F(Cpu(CpuSplit.QemuMain) + Cpu(CpuSplit.QemuWorkers))}, Moat {F(Cpu(CpuSplit.Moat))}, containerd and CNI {F(Cpu(CpuSplit.Containerd))}, other processes {F(Cpu(CpuSplit.Other))}.");
            }
            lines.Add(line);
        }

        if (IoEfficiencies(r).Any(Missed) && IoCpu(r) is { Count: > 0 } io)
        {
            lines.Add("**I/O, CPU** (`perf` of each workload alone in a foreground `moat run`, which copies stdout itself where `ctr` has the shim copy it to a FIFO; medians, ms): " + string.Join("; ", io.Select(w =>
                string.Create(CultureInfo.InvariantCulture,
                    $"{w.Workload} ({F(w.Wall)} wall): the vCPU {F(w.Vcpu)} (TCG {F(w.Tcg)}, guest code {F(w.Guest)}, host kernel {F(w.Kernel)}), QEMU's main loop {F(w.Main)}, its workers {F(w.Workers)}, Moat {F(w.Moat)}")))
                + ". Under TCG every byte the guest copies is emulated: the vCPU thread is the bottleneck wherever it is busy for most of the wall time; QEMU's main loop serves 9p requests and the console's virtio-serial one at a time.");
        }

        if (r.Median("memory", "moat", "PSS per pod, 1 pod") is { } pss && pss > PssOnePodMiB)
        {
            var q = r.Rows("qemu-memory").OrderByDescending(x => x.Stats.Median).Select(x => $"{x.Name} {F(x.Stats.Median)}").ToList();
            if (q.Count > 0)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"**PSS, 1 pod** ({F(pss)} MiB; QEMU's by mapping, MiB): {string.Join("; ", q)}. With one pod the file mappings (template, QEMU binaries) count whole; with more pods they divide among them, and the TCG cache exists only under TCG."));
            }
        }

        var many = r.RowsWithMetric("qemu-memory-many").Where(x => x.Key.Metric.StartsWith("PSS, ", StringComparison.Ordinal)).ToList();
        var manyPss = samples.Where(s => s.Group == "memory" && s.Case == "moat" && s.Metric.StartsWith("PSS per pod, ", StringComparison.Ordinal) && s.X > 1)
            .GroupBy(s => s.X).Select(g => (Pods: g.Key, Median: Stats.Of(g.Select(s => s.Value)).Median)).FirstOrDefault();
        if (many.Count > 0 && manyPss.Pods > 1 && manyPss.Median > PssManyPodsMiB)
        {
            var q = many.OrderByDescending(x => x.Stats.Median).Select(x => $"{x.Key.Case} {F(x.Stats.Median)}");
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"**PSS, {manyPss.Pods:F0} pods** ({F(manyPss.Median)} MiB per pod; each QEMU's by mapping, median, MiB): {string.Join("; ", q)}. What stays is each VM's private memory: its TCG cache (TCG only), QEMU's heap and the guest RAM it wrote since the restore."));
        }

        var density = samples.Where(s => s.Group == "density" && s.Case == "moat").ToList();
        // Only a run stopped by the MemAvailable floor says memory set the count (DensityCommand's note).
        if (density.Count > 0 && density.Max(s => s.X) is var reached && reached < DensityPods
            && notes.Contains($"density, moat: stopped before pod {reached + 1:F0}: MemAvailable", StringComparison.Ordinal))
        {
            double At(string metric) => density.LastOrDefault(s => s.Metric == metric && s.X == reached)?.Value ?? 0;
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"**Density** ({reached:F0} pods, stopped by the MemAvailable floor): the pods held {F(At("host memory used"))} MiB of host memory, {F(At("PSS per pod"))} MiB of PSS each (the PSS lines say where it goes), and the last one started in {F(At("pod start"))} ms: memory, not start time, sets the count."));
        }

        if (r.Median("memory", "moat", "shim RSS") is { } rss && rss > ShimRssMiB)
        {
            var m = r.Rows("shim-memory").OrderByDescending(x => x.Stats.Median).Select(x => $"{x.Name} {F(x.Stats.Median)}").ToList();
            if (m.Count > 0)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"**Shim RSS** ({F(rss)} MiB, by mapping, MiB): {string.Join("; ", m)}."));
            }
        }

        if (lines.Count == 0)
        {
            return;
        }

        md.AppendLine("### Why the missed targets miss (from this run's profiles)");
        md.AppendLine();
        foreach (var line in lines)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- {line}");
        }

        md.AppendLine();
    }

    private static void Density(StringBuilder md, List<Sample> samples, string dir)
    {
        var density = samples.Where(s => s.Group == "density").ToList();
        if (density.Count == 0)
        {
            return;
        }

        md.AppendLine("## Density");
        md.AppendLine();
        md.AppendLine("Idle pods started one after another (CRI) up to the run's ceiling (above), stopping early when the next pod would take MemAvailable below 25% of MemTotal or a start failed. Host memory used = MemAvailable before the first pod minus MemAvailable now.");
        md.AppendLine();
        var charts = new[] { ("PSS per pod", "MiB", "density-pss.png"), ("host memory used", "MiB", "density-host.png"), ("pod start", "ms", "density-start.png") };
        foreach (var (metric, unit, png) in charts)
        {
            var series = density.Where(s => s.Metric == metric).GroupBy(s => s.Case)
                .Select(g => (g.Key, g.Select(s => s.X).ToArray(), g.Select(s => s.Value).ToArray())).ToList();
            Charts.Lines(Path.Combine(dir, png), $"Density: {metric} as pods are added", "idle pods running", $"{metric} ({unit})", series);
            md.AppendLine(CultureInfo.InvariantCulture, $"![{metric}]({png})");
            md.AppendLine();
        }

        md.AppendLine("| runtime | pods | PSS per pod (MiB) | host memory used (MiB) | start of that pod (ms) |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var g in density.GroupBy(s => s.Case))
        {
            var last = g.Max(s => s.X);
            foreach (var n in g.Select(s => s.X).Distinct().Where(n => n == 1 || n % 10 == 0 || n == last).Order())
            {
                double V(string m) => g.First(s => s.X == n && s.Metric == m).Value;
                md.AppendLine(CultureInfo.InvariantCulture, $"| {g.Key} | {n} | {F(V("PSS per pod"))} | {F(V("host memory used"))} | {F(V("pod start"))} |");
            }
        }

        md.AppendLine();
    }

    private static void Workload(StringBuilder md, Lookup r, string dir)
    {
        var rows = r.RowsWithMetric("workload");
        if (rows.Count == 0)
        {
            return;
        }

        var runtimes = rows.Select(x => x.Key.Case).Distinct().OrderBy(c => c == "runc" ? 0 : 1).ToList();
        var metrics = rows.Select(x => (x.Key.Metric, x.Unit)).Distinct().ToList();
        md.AppendLine("## Workload cost");
        md.AppendLine();
        md.AppendLine("Medians; in brackets relative to runc's in this run (1.00 = as fast as runc, 0.50 = half as fast). Throughputs in MiB/s or operations/s, the CPU loop in seconds (lower is better; its ratio is runc's time over this one).");
        md.AppendLine();
        md.AppendLine("| metric | " + string.Join(" | ", runtimes) + " |");
        md.AppendLine("|---|" + string.Concat(runtimes.Select(_ => "---:|")));
        var series = runtimes.Where(x => x != "runc").Select(x => (Name: x, Values: new double?[metrics.Count])).ToList();
        for (var m = 0; m < metrics.Count; m++)
        {
            var (metric, unit) = metrics[m];
            var runc = r.Median("workload", "runc", metric);
            var cells = runtimes.Select(rt =>
            {
                if (r.Median("workload", rt, metric) is not { } v)
                {
                    return "—";
                }

                double? rel = runc is { } b ? (unit == "s" ? b / v : v / b) : null;
                var target = series.FindIndex(s => s.Name == rt);
                if (target >= 0)
                {
                    series[target].Values[m] = rel;
                }

                return rel is { } x && rt != "runc" ? $"{F(v)} ({x:F2})" : F(v);
            });
            md.AppendLine($"| {metric} ({unit}) | " + string.Join(" | ", cells) + " |");
        }

        md.AppendLine();
        Charts.Grouped(Path.Combine(dir, "workload.png"), "Workload speed relative to runc (1 = runc)", "relative to runc", metrics.Select(m => m.Metric).ToList(), series);
        md.AppendLine("![Workload speed relative to runc](workload.png)");
        md.AppendLine();
    }

    private static string ReadOr(string path, string fallback) => File.Exists(path) ? File.ReadAllText(path) : fallback;

    private static string F(double v) => Charts.Format(v);

    private static string Csv(string s) => s.Contains(',', StringComparison.Ordinal) ? $"\"{s}\"" : s;

    /// <summary>Stats by (group, case, metric).</summary>
    private sealed class Lookup(Dictionary<(string Group, string Case, string Metric, string Unit), Stats> stats)
    {
        public Stats? Get(string group, string @case, string metric) =>
            stats.FirstOrDefault(kv => kv.Key.Group == group && kv.Key.Case == @case && kv.Key.Metric == metric).Value;

        public double? Median(string group, string @case, string metric) => Get(group, @case, metric)?.Median;

        /// <summary>Cases of a group in the order they were first measured.</summary>
        public List<(string Name, Stats Stats)> Rows(string group) =>
            stats.Where(kv => kv.Key.Group == group).Select(kv => (kv.Key.Case, kv.Value)).ToList();

        public List<((string Case, string Metric) Key, Stats Stats, string Unit)> RowsWithMetric(string group) =>
            stats.Where(kv => kv.Key.Group == group).Select(kv => ((kv.Key.Case, kv.Key.Metric), kv.Value, kv.Key.Unit)).ToList();
    }
}
