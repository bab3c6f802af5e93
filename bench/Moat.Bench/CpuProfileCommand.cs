using System.Diagnostics;
using System.Globalization;

namespace Moat.Bench;

/// <summary>
/// cpu-profile: RUNS times, the command (its "{i}" replaced by the run's number) under
/// <c>perf record -e cpu-clock</c>; each run's CPU time is split by who spent it (QEMU's vCPU
/// thread translating or running guest code, QEMU's other threads, Moat itself) with
/// <c>perf report</c>, and kept as samples of GROUP (default "cpu") and METRIC (default "CPU per
/// start") next to the run's wall time. The command's output is discarded.
/// </summary>
internal static class CpuProfileCommand
{
    /// <summary>Sampling rate: enough samples for a sub-second start without slowing it much.</summary>
    public const int Hertz = 499;

    public static int Run(Args args)
    {
        var samples = args.Get("samples");
        var runs = args.Int("runs", 10);
        var dir = args.Get("dir");
        var group = args.Get("group", "cpu");
        var metric = args.Get("metric", CpuSplit.PerStart);
        if (args.Command.Count == 0)
        {
            throw new BenchException("cpu-profile: the command to profile follows --");
        }

        for (var i = 1; i <= runs; i++)
        {
            var data = Path.Combine(dir, $"perf-{i}.data");
            var command = args.Command.Select(a => a.Replace("{i}", i.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
            var clock = Stopwatch.StartNew();
            Exec("perf", ["record", "-q", "-e", "cpu-clock", "-F", Hertz.ToString(CultureInfo.InvariantCulture), "-o", data, "--", .. command], keepOutput: false);
            var wall = clock.Elapsed.TotalMilliseconds;
            var report = Exec("perf", ReportArgs(data));
            var split = CpuSplit.Of(report);
            SampleFile.Append(samples, split.Select(kv => new Sample(group, kv.Key, metric, "ms", 0, kv.Value))
                .Prepend(new Sample(group, CpuSplit.Wall, metric, "ms", 0, wall)));
            Console.WriteLine($"  CPU profile of {metric} {i}/{runs}: {wall:F0} ms under perf, {split.Values.Sum():F0} ms of CPU");
        }

        return 0;
    }

    /// <summary><c>perf report</c> of <paramref name="data"/> as <see cref="CpuSplit.Of"/> reads it: CPU time by thread name and file.</summary>
    /// <param name="byPid">Also by process ("PID:name" before the thread name), so that <see cref="CpuSplit.Of"/> can leave one out.</param>
    public static string[] ReportArgs(string data, bool byPid = false) => byPid
        ? ["report", "-i", data, "--stdio", "-q", "-g", "none", "--sort", "pid,comm,dso", "-F", "period,pid,comm,dso", "-t", "|"]
        : ["report", "-i", data, "--stdio", "-q", "-g", "none", "--sort", "comm,dso", "-F", "period,comm,dso", "-t", "|"];

    /// <param name="keepOutput">false: the output is read and dropped (a workload may write a GiB to it).</param>
    public static string Exec(string file, IEnumerable<string> arguments, bool keepOutput = true)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new BenchException($"cannot run {file}");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = keepOutput ? p.StandardOutput.ReadToEnd() : Drop(p.StandardOutput.BaseStream);
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new BenchException($"{file} {string.Join(' ', psi.ArgumentList)}: exit {p.ExitCode}: {stderr.Result.Trim()}");
        }

        return stdout;
    }

    private static string Drop(Stream output)
    {
        output.CopyTo(Stream.Null);
        return "";
    }
}

/// <summary>Who spent a start's CPU time, from <c>perf report --sort comm,dso -F period,comm,dso -t '|'</c> lines.</summary>
internal static class CpuSplit
{
    public const string PerStart = "CPU per start";
    public const string PerPodStart = "CPU per CRI pod start";
    public const string Containerd = "containerd (CRI, snapshots, the task API's client) and the CNI plugins it runs";
    public const string Wall = "wall time (under perf)";
    public const string GuestCode = "QEMU vCPU: running the guest's translated code";
    public const string Tcg = "QEMU vCPU: TCG translating guest code, emulating its memory accesses and devices";
    public const string VcpuKernel = "QEMU vCPU: host kernel (faults on the template's memory, signals, I/O)";
    public const string QemuMain = "QEMU's main loop (its main thread and monitor I/O thread): start-up, restore, 9p requests, virtio-serial, QMP";
    public const string QemuWorkers = "QEMU's worker threads: 9p's file system calls, RCU";
    public const string Moat = "Moat on the host (CLI and its stdio relay, VMM launcher, shim)";
    public const string Other = "other processes";

    /// <summary>Milliseconds of CPU per category (a cpu-clock sample's period is nanoseconds).</summary>
    /// <param name="excludePid">Given: the report is by process too (<see cref="CpuProfileCommand.ReportArgs"/> byPid), and this one's samples are left out.</param>
    public static Dictionary<string, double> Of(string report, int? excludePid = null)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        var skip = excludePid is null ? 0 : 1;
        foreach (var line in report.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('|');
            if (fields.Length < 3 + skip || !long.TryParse(fields[0].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ns))
            {
                continue;
            }

            if (excludePid is { } own && int.TryParse(fields[1].Trim().Split(':')[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) && pid == own)
            {
                continue;
            }

            var category = Category(fields[1 + skip].Trim(), fields[2 + skip].Trim());
            if (category is not null)
            {
                result[category] = result.GetValueOrDefault(category) + ns / 1e6;
            }
        }

        return result;
    }

    /// <summary>
    /// By thread name (QEMU names its threads with debug-threads=on: "CPU 0/TCG", "worker",
    /// "IO mon_iothread"; its main thread keeps the 15-character "qemu-system-x86", the shim its
    /// "containerd-shim") and by where the sample fell: TCG's generated code has no file, so perf
    /// shows it as "[JIT] tid N". A system-wide profile also has the idle task ("swapper": no
    /// one's CPU, left out: null), containerd and the CNI plugins it runs.
    /// </summary>
    public static string? Category(string comm, string dso) => comm switch
    {
        "swapper" => null,
        "containerd" or "bridge" or "host-local" or "loopback" or "portmap" or "iptables" or "ip6tables" => Containerd,
        _ when comm.StartsWith("xtables-", StringComparison.Ordinal) => Containerd,
        _ when comm.StartsWith("CPU ", StringComparison.Ordinal) && dso.StartsWith("[JIT]", StringComparison.Ordinal) => GuestCode,
        _ when comm.StartsWith("CPU ", StringComparison.Ordinal) && dso.StartsWith("[kernel", StringComparison.Ordinal) => VcpuKernel,
        _ when comm.StartsWith("CPU ", StringComparison.Ordinal) => Tcg,
        "qemu-system-x86" or "IO mon_iothread" => QemuMain,
        "worker" or "call_rcu" or "live_migration" => QemuWorkers,
        "moat" or "moat-vmm" or "containerd-shim" => Moat,
        _ when comm.StartsWith("vmm-", StringComparison.Ordinal) => Moat, // the VMM launcher before it execs QEMU
        _ when comm.StartsWith(".NET", StringComparison.Ordinal) => Moat,
        _ => Other,
    };
}
