using System.Globalization;

namespace Moat.Bench;

/// <summary>What the host's /proc says about processes and memory.</summary>
internal static class Procs
{
    public static HashSet<int> All() =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var p) ? p : 0)
            .Where(p => p > 0).ToHashSet();

    /// <summary>Proportional set size in KiB (0 when the process is gone).</summary>
    public static long PssKiB(int pid) => Moat.Linux.ProcMemory.PssBytes(pid) / 1024;

    public static long RssKiB(int pid) => Moat.Linux.ProcMemory.RssBytes(pid) / 1024;

    public static string Comm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    public static string[] CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>
    /// The process trees rooted at each shim among <paramref name="pids"/>: one per pod, as each
    /// pod has its own shim (a subreaper, so the VMM or sandbox processes stay below it).
    /// </summary>
    public static Dictionary<int, List<int>> ShimTrees(IEnumerable<int> pids)
    {
        var set = pids.ToHashSet();
        var parent = set.ToDictionary(p => p, ParentOf);
        var trees = set.Where(p => Comm(p).StartsWith("containerd-shim", StringComparison.Ordinal)).ToDictionary(p => p, p => new List<int> { p });
        foreach (var p in set)
        {
            for (var q = parent[p]; q > 1; q = parent.TryGetValue(q, out var next) ? next : ParentOf(q))
            {
                if (trees.TryGetValue(q, out var tree))
                {
                    tree.Add(p);
                    break;
                }
            }
        }

        return trees;
    }

    /// <summary>Nanoseconds each thread of <paramref name="pid"/> has run, by thread id (schedstat; empty when gone).</summary>
    public static Dictionary<int, long> CpuNsByThread(int pid)
    {
        var threads = new Dictionary<int, long>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] =
                        long.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0], CultureInfo.InvariantCulture);
                }
                catch (Exception e) when (e is IOException or FormatException)
                {
                    // The thread ended between the listing and the read.
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process ended.
        }

        return threads;
    }

    /// <summary>MemTotal and MemAvailable in KiB.</summary>
    public static (long Total, long Available) Memory() =>
        (Moat.Linux.ProcMemory.KiB("/proc/meminfo", "MemTotal:"), Moat.Linux.ProcMemory.KiB("/proc/meminfo", "MemAvailable:"));

    private static int ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return 0;
        }
    }
}
