using System.Globalization;
using System.Text.RegularExpressions;

namespace Moat.Bench;

/// <summary>Where the shim daemon's RSS goes, by mapping, from /proc/PID/smaps.</summary>
internal static partial class ShimMemory
{
    public const string Code = "its code (file pages of the binary, shared by every shim)";
    public const string ReadOnly = "its read-only data and unwind tables (file pages, shared)";
    public const string Data = "its initialised data (relocated at load)";
    public const string ZeroData = "NativeAOT type data rebuilt at start, and zeroed data (private)";
    public const string Libraries = "C library and loader (file pages, shared)";
    public const string Anonymous = "GC heap, thread stacks, malloc (private)";

    /// <summary>RSS in MiB per category for the shim process <paramref name="pid"/>.</summary>
    public static Dictionary<string, double> Breakdown(int pid)
    {
        var binary = Procs.CommandLine(pid).FirstOrDefault() is { } argv0 ? ExePath(pid, argv0) : "";
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        string? category = null;
        var previousWasBinary = false;
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            var m = MappingHeader().Match(line);
            if (m.Success)
            {
                var perms = m.Groups[3].Value;
                var path = m.Groups[4].Value.Trim();
                var ofBinary = path.Length > 0 && path == binary;
                category = path switch
                {
                    _ when ofBinary && perms.Contains('x', StringComparison.Ordinal) => Code,
                    _ when ofBinary && perms.StartsWith("r-", StringComparison.Ordinal) => ReadOnly,
                    _ when ofBinary => Data,
                    // The binary's zero-filled pages (.bss, and NativeAOT's .hydrated, where the type
                    // data compressed in the file is rebuilt at start) follow its last file mapping.
                    "" when previousWasBinary => ZeroData,
                    _ when path.StartsWith('/') => Libraries,
                    _ => Anonymous,
                };
                previousWasBinary = ofBinary;
            }
            else if (category is not null && line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                var kib = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                result[category] = result.GetValueOrDefault(category) + kib / 1024.0;
            }
        }

        return result;
    }

    private static string ExePath(int pid, string argv0)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/exe").LinkTarget ?? argv0;
        }
        catch (IOException)
        {
            return argv0;
        }
    }

    [GeneratedRegex(@"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")]
    private static partial Regex MappingHeader();
}
