using System.Globalization;
using Moat.Protocols.Agent;

namespace Moat.Agent;

/// <summary>The guest's memory and CPU time as <c>moat monitor</c> reports them, parsed from /proc's text.</summary>
internal static class GuestStats
{
    /// <summary>Reads the guest's /proc/meminfo and /proc/stat.</summary>
    public static GuestMetricsResponse Read() =>
        Parse(File.ReadAllText("/proc/meminfo"), File.ReadAllText("/proc/stat"));

    public static GuestMetricsResponse Parse(string meminfo, string stat)
    {
        var r = new GuestMetricsResponse();
        foreach (var line in meminfo.Split('\n'))
        {
            // "MemTotal:        1004156 kB"
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }
            var fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || !ulong.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                continue;
            }
            var bytes = fields.Length > 1 && fields[1] == "kB" ? value * 1024 : value;
            switch (line[..colon])
            {
                case "MemTotal": r.MemTotalBytes = bytes; break;
                case "MemFree": r.MemFreeBytes = bytes; break;
                case "MemAvailable": r.MemAvailableBytes = bytes; break;
                case "Cached": r.PageCacheBytes = bytes; break;
            }
        }
        foreach (var line in stat.Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0)
            {
                continue;
            }
            switch (fields[0])
            {
                case "cpu":
                    // cpu user nice system idle iowait irq softirq steal ...
                    r.CpuUserTicks = Field(fields, 1) + Field(fields, 2);
                    r.CpuSystemTicks = Field(fields, 3) + Field(fields, 6) + Field(fields, 7);
                    r.CpuIdleTicks = Field(fields, 4) + Field(fields, 5);
                    break;
                case "procs_running":
                case "procs_blocked":
                    r.Processes += (uint)Field(fields, 1);
                    break;
            }
        }
        return r;
    }

    private static ulong Field(string[] fields, int i) =>
        i < fields.Length && ulong.TryParse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;
}
