using System.CommandLine;
using System.Text.Json.Nodes;
using Moat.Cli.Runc;
using Moat.Oci;
using Moat.Protocols.Containerd.CgroupsV2;
using Moat.Ttrpc;

namespace Moat.Cli.Commands;

/// <summary><c>moat events [--stats] [--interval D] ID</c>: runc's event stream (stats, oom) as JSON lines.</summary>
internal static class EventsCommand
{
    public static Command Create()
    {
        var stats = new Option<bool>("--stats") { Description = "print the container's stats once and exit" };
        var interval = new Option<string>("--interval") { DefaultValueFactory = _ => "5s", Description = "time between stats events (e.g. 5s, 500ms)" };
        var id = new Argument<string>("container-id");
        var cmd = new Command("events", "print container events (stats every --interval, oom when one happens)") { stats, interval, id };
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var containerId = r.GetValue(id)!;
            var rec = CliStore.Read(r.GetValue(GlobalOptions.Root)!, containerId);
            var period = ParseDuration(r.GetValue(interval)!);
            await using var client = await ShimConnection.ConnectAsync(rec, ct);
            ulong oomKills = 0;
            while (!ct.IsCancellationRequested)
            {
                Metrics m;
                try
                {
                    m = Metrics.Parser.ParseFrom((await client.StatsAsync(containerId, ct)).Stats.Value);
                }
                catch (TtrpcException e)
                {
                    if (r.GetValue(stats))
                    {
                        throw ShimConnection.Translate(e, containerId);
                    }
                    return 0; // the container went away: the stream ends
                }
                if (m.MemoryEvents?.OomKill > oomKills)
                {
                    oomKills = m.MemoryEvents.OomKill;
                    Console.WriteLine(new JsonObject { ["type"] = "oom", ["id"] = containerId }.ToJsonString());
                }
                Console.WriteLine(new JsonObject { ["type"] = "stats", ["id"] = containerId, ["data"] = Data(m) }.ToJsonString());
                if (r.GetValue(stats))
                {
                    return 0;
                }
                await Task.Delay(period, ct);
                if (await ShimConnection.StatusAsync(rec, ct) == ContainerStatus.Stopped)
                {
                    return 0;
                }
            }
            return 0;
        }));
        return cmd;
    }

    /// <summary>The fields of runc's types.Stats that a guest cgroup v2 fills.</summary>
    private static JsonObject Data(Metrics m) => new()
    {
        ["cpu"] = new JsonObject
        {
            ["usage"] = new JsonObject { ["total"] = (m.Cpu?.UsageUsec ?? 0) * 1000, ["user"] = (m.Cpu?.UserUsec ?? 0) * 1000, ["kernel"] = (m.Cpu?.SystemUsec ?? 0) * 1000 },
            ["throttling"] = new JsonObject { ["periods"] = m.Cpu?.NrPeriods ?? 0, ["throttledPeriods"] = m.Cpu?.NrThrottled ?? 0, ["throttledTime"] = (m.Cpu?.ThrottledUsec ?? 0) * 1000 },
        },
        ["memory"] = new JsonObject
        {
            ["usage"] = new JsonObject { ["usage"] = m.Memory?.Usage ?? 0, ["limit"] = m.Memory?.UsageLimit ?? 0 },
            ["swap_usage"] = new JsonObject { ["usage"] = m.Memory?.SwapUsage ?? 0, ["limit"] = m.Memory?.SwapLimit ?? 0 },
            ["raw"] = new JsonObject { ["anon"] = m.Memory?.Anon ?? 0, ["file"] = m.Memory?.File ?? 0 },
        },
        ["pids"] = new JsonObject { ["current"] = m.Pids?.Current ?? 0, ["limit"] = m.Pids?.Limit ?? 0 },
    };

    private static TimeSpan ParseDuration(string text)
    {
        var t = text.Trim();
        var (number, unit) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 0.001) : t.EndsWith('s') ? (t[..^1], 1.0) : t.EndsWith('m') ? (t[..^1], 60.0) : (t, 1.0);
        return double.TryParse(number, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
            ? TimeSpan.FromSeconds(n * unit)
            : throw new Moat.Runtime.RuntimeException(Moat.Runtime.RuntimeErrorKind.InvalidArgument, $"--interval {text}: not a duration (e.g. 5s, 500ms)");
    }
}
