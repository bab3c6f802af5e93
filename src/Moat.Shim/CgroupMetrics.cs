using System.Globalization;
using Moat.Protocols.Containerd.CgroupsV2;

namespace Moat.Shim;

/// <summary>A container's cgroup v2 interface files (read in the guest) as containerd's v2 Metrics.</summary>
internal static class CgroupMetrics
{
    public static Metrics Parse(IReadOnlyDictionary<string, string> files)
    {
        var cpu = KeyValues(files, "cpu.stat");
        var mem = KeyValues(files, "memory.stat");
        var events = KeyValues(files, "memory.events");
        return new Metrics
        {
            Pids = new PidsStat { Current = Single(files, "pids.current"), Limit = Single(files, "pids.max") },
            Cpu = new CPUStat
            {
                UsageUsec = cpu.GetValueOrDefault("usage_usec"),
                UserUsec = cpu.GetValueOrDefault("user_usec"),
                SystemUsec = cpu.GetValueOrDefault("system_usec"),
                NrPeriods = cpu.GetValueOrDefault("nr_periods"),
                NrThrottled = cpu.GetValueOrDefault("nr_throttled"),
                ThrottledUsec = cpu.GetValueOrDefault("throttled_usec"),
            },
            Memory = new MemoryStat
            {
                Anon = mem.GetValueOrDefault("anon"),
                File = mem.GetValueOrDefault("file"),
                KernelStack = mem.GetValueOrDefault("kernel_stack"),
                Slab = mem.GetValueOrDefault("slab"),
                Sock = mem.GetValueOrDefault("sock"),
                Shmem = mem.GetValueOrDefault("shmem"),
                FileMapped = mem.GetValueOrDefault("file_mapped"),
                FileDirty = mem.GetValueOrDefault("file_dirty"),
                FileWriteback = mem.GetValueOrDefault("file_writeback"),
                AnonThp = mem.GetValueOrDefault("anon_thp"),
                InactiveAnon = mem.GetValueOrDefault("inactive_anon"),
                ActiveAnon = mem.GetValueOrDefault("active_anon"),
                InactiveFile = mem.GetValueOrDefault("inactive_file"),
                ActiveFile = mem.GetValueOrDefault("active_file"),
                Unevictable = mem.GetValueOrDefault("unevictable"),
                SlabReclaimable = mem.GetValueOrDefault("slab_reclaimable"),
                SlabUnreclaimable = mem.GetValueOrDefault("slab_unreclaimable"),
                Pgfault = mem.GetValueOrDefault("pgfault"),
                Pgmajfault = mem.GetValueOrDefault("pgmajfault"),
                Usage = Single(files, "memory.current"),
                UsageLimit = Single(files, "memory.max"),
                SwapUsage = Single(files, "memory.swap.current"),
                SwapLimit = Single(files, "memory.swap.max"),
            },
            MemoryEvents = new MemoryEvents
            {
                Low = events.GetValueOrDefault("low"),
                High = events.GetValueOrDefault("high"),
                Max = events.GetValueOrDefault("max"),
                Oom = events.GetValueOrDefault("oom"),
                OomKill = events.GetValueOrDefault("oom_kill"),
            },
        };
    }

    /// <summary>"max" (no limit) reads as the largest value, as containerd's own cgroups code does.</summary>
    private static ulong Single(IReadOnlyDictionary<string, string> files, string name) =>
        files.TryGetValue(name, out var text) ? ParseValue(text.Trim()) : 0;

    private static Dictionary<string, ulong> KeyValues(IReadOnlyDictionary<string, string> files, string name)
    {
        var result = new Dictionary<string, ulong>();
        if (!files.TryGetValue(name, out var text))
        {
            return result;
        }
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length == 2)
            {
                result[parts[0]] = ParseValue(parts[1].Trim());
            }
        }
        return result;
    }

    private static ulong ParseValue(string s) =>
        s == "max" ? ulong.MaxValue : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;
}
