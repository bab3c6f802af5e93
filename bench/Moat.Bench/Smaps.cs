using System.Globalization;
using System.Text.RegularExpressions;

namespace Moat.Bench;

/// <summary>A process's mappings from /proc/PID/smaps, each with its KiB figures (Rss, Pss, Anonymous, ...).</summary>
internal static partial class Smaps
{
    public sealed record Mapping(long Size, string Perms, string Path, Dictionary<string, long> KiB)
    {
        public long Of(string field) => KiB.GetValueOrDefault(field);
    }

    public static List<Mapping> Read(int pid)
    {
        var mappings = new List<Mapping>();
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            var m = MappingHeader().Match(line);
            if (m.Success)
            {
                var size = Convert.ToInt64(m.Groups[2].Value, 16) - Convert.ToInt64(m.Groups[1].Value, 16);
                mappings.Add(new Mapping(size, m.Groups[3].Value, m.Groups[4].Value.Trim(), new Dictionary<string, long>(StringComparer.Ordinal)));
            }
            else if (mappings.Count > 0 && line.EndsWith(" kB", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is > 0 and var colon)
            {
                mappings[^1].KiB[line[..colon]] = long.Parse(line[(colon + 1)..^3].Trim(), CultureInfo.InvariantCulture);
            }
        }

        return mappings;
    }

    [GeneratedRegex(@"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")]
    private static partial Regex MappingHeader();
}
