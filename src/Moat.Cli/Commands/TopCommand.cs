using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Moat.Cli.Monitor;
using Spectre.Console;

namespace Moat.Cli.Commands;

/// <summary><c>moat top</c>: the node's sandboxes in a table (memory, CPU, start), refreshed until interrupted.</summary>
internal static class TopCommand
{
    public static Command Create()
    {
        var interval = new Option<double>("--interval", "-d") { Description = "seconds between refreshes (CPU is measured over it)", DefaultValueFactory = _ => 2 };
        var once = new Option<bool>("--once") { Description = "print one table, measured over one interval, and exit" };
        var cmd = new Command("top", "show the node's Moat sandboxes with their memory and CPU, refreshing") { interval, once };
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var seconds = r.GetValue(interval);
            if (!(seconds is >= 0.2 and <= 3600))
            {
                return ErrorReporter.Fail($"--interval {seconds.ToString(CultureInfo.InvariantCulture)}: expected seconds between 0.2 and 3600");
            }
            var every = TimeSpan.FromSeconds(seconds);
            var scraper = new NodeScraper(GlobalOptions.RuntimeOptions(r), MonitorCommand.ShimDeadline);
            var before = await scraper.ScrapeAsync(ct);
            if (r.GetValue(once) || !AnsiConsole.Profile.Capabilities.Interactive)
            {
                if (Console.IsOutputRedirected)
                {
                    AnsiConsole.Profile.Width = PipeWidth; // a pipe has no width: keep each row on one line, as ps does
                }
                await Task.Delay(every, ct);
                AnsiConsole.Write(Table(before, await scraper.ScrapeAsync(ct)));
                return 0;
            }
            try
            {
                await AnsiConsole.Live(Table(before, before)).StartAsync(async live =>
                {
                    while (true)
                    {
                        await Task.Delay(every, ct);
                        var now = await scraper.ScrapeAsync(ct);
                        live.UpdateTarget(Table(before, now));
                        before = now;
                    }
                });
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            return 0;
        }));
        return cmd;
    }

    private const int PipeWidth = 240;

    private static Table Table(NodeSnapshot before, NodeSnapshot now)
    {
        var table = new Table().AddColumns("SANDBOX", "POD", "ACCEL", "VCPUS", "CPU%", "VM MEM", "GUEST USED", "QEMU PSS", "SHIM RSS", "CTRS", "START");
        foreach (var s in now.Sandboxes)
        {
            var m = s.Metrics;
            var pod = m.PodName.Length > 0 ? $"{m.PodNamespace}/{m.PodName}" : "-";
            table.AddRow(Markup.Escape(m.Id.Length > 12 ? m.Id[..12] : m.Id), Markup.Escape(pod), m.Accelerator, Num(m.Vcpus),
                CpuPercent(before.Sandboxes.FirstOrDefault(b => b.Metrics.Id == m.Id), s, Stopwatch.GetElapsedTime(before.TakenAt, now.TakenAt)),
                MiB(m.MemoryBytes), m.Guest is { } g ? MiB(NodeMetrics.GuestUsedBytes(g)) : "?",
                MiB(s.VmmPssBytes), MiB(s.ShimRssBytes), Num(m.Containers),
                $"{m.StartSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s{(m.Restored ? " (template)" : "")}");
        }
        table.Caption($"{now.Sandboxes.Count} sandboxes{(now.Unreachable > 0 ? $", {now.Unreachable} not answering" : "")}; {now.Templates} templates");
        return table;
    }

    /// <summary>Guest CPU busy time between two scrapes, as a share of one vCPU (as top's per-process %CPU).</summary>
    private static string CpuPercent(SandboxView? before, SandboxView now, TimeSpan over)
    {
        if (before?.Metrics.Guest is not { } a || now.Metrics.Guest is not { } b || over <= TimeSpan.Zero)
        {
            return "-";
        }
        var busy = b.CpuUserSeconds + b.CpuSystemSeconds - (a.CpuUserSeconds + a.CpuSystemSeconds);
        return (Math.Max(0, busy) / over.TotalSeconds * 100).ToString("0", CultureInfo.InvariantCulture);
    }

    private static string MiB(double bytes) => (bytes / (1 << 20)).ToString("0", CultureInfo.InvariantCulture) + " MiB";

    private static string Num(double v) => v.ToString(CultureInfo.InvariantCulture);
}
