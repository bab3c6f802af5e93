using System.Globalization;

namespace Moat.Linux;

/// <summary>A host process's memory, as /proc tells it (0 once the process is gone).</summary>
public static class ProcMemory
{
    /// <summary>Proportional set size (shared pages split among their sharers), in bytes.</summary>
    public static long PssBytes(int pid) => KiB($"/proc/{pid}/smaps_rollup", "Pss:") * 1024;

    /// <summary>Resident set size, in bytes.</summary>
    public static long RssBytes(int pid) => KiB($"/proc/{pid}/status", "VmRSS:") * 1024;

    /// <summary>A "Name:   123 kB" line's number, from a /proc file; 0 when the file or the line is missing.</summary>
    public static long KiB(string path, string name)
    {
        try
        {
            var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal));
            return line is not null && long.TryParse(line.AsSpan(name.Length).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
