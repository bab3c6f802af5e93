using System.Globalization;
using System.Text.RegularExpressions;

namespace Moat.Bench;

/// <summary>Where an idle QEMU's PSS goes, by mapping, from /proc/PID/smaps.</summary>
internal static partial class QemuMemory
{
    public const string GuestRam = "guest RAM touched";
    public const string TemplateRam = "guest RAM read from the VM template file";
    public const string TemplateCopies = "guest RAM written since the restore (copies of template pages)";
    public const string TcgBuffer = "TCG translation cache";
    public const string Kernel = "guest kernel file (vmlinux)";
    public const string Initrd = "initrd file";
    public const string Binaries = "QEMU binary and libraries";
    public const string OtherAnon = "QEMU heap and other anonymous";

    /// <summary>PSS in MiB per category for the QEMU process <paramref name="pid"/>.</summary>
    public static Dictionary<string, double> Breakdown(int pid)
    {
        var cmd = string.Join(' ', Procs.CommandLine(pid));
        long ramBytes = Mib(MemoryOption().Match(cmd));
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        string? category = null;
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            var m = MappingHeader().Match(line);
            if (m.Success)
            {
                long size = Convert.ToInt64(m.Groups[2].Value, 16) - Convert.ToInt64(m.Groups[1].Value, 16);
                var perms = m.Groups[3].Value;
                var path = m.Groups[4].Value.Trim();
                category = path switch
                {
                    "" when size == ramBytes => GuestRam,
                    // QEMU's only writable and executable memory: its translated code, in one mapping
                    // per region (2 MiB each, guard pages between), as big in all as tb-size.
                    "" when perms == "rwxp" => TcgBuffer,
                    _ when path.Contains("/templates/", StringComparison.Ordinal) && path.EndsWith("/memory", StringComparison.Ordinal) => TemplateRam,
                    _ when path.EndsWith("/vmlinux", StringComparison.Ordinal) => Kernel,
                    _ when path.EndsWith(".img", StringComparison.Ordinal) => Initrd,
                    _ when path.StartsWith('/') => Binaries,
                    _ => OtherAnon,
                };
            }
            else if (category is not null && line.StartsWith("Pss:", StringComparison.Ordinal))
            {
                var kib = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                result[category] = result.GetValueOrDefault(category) + kib / 1024.0;
            }
            else if (category == TemplateRam && line.StartsWith("Anonymous:", StringComparison.Ordinal))
            {
                // A private file mapping's written pages are anonymous copies, counted whole in its PSS.
                var kib = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                result[TemplateRam] = result.GetValueOrDefault(TemplateRam) - kib / 1024.0;
                result[TemplateCopies] = result.GetValueOrDefault(TemplateCopies) + kib / 1024.0;
            }
        }

        return result;
    }

    private static long Mib(Match m) =>
        m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 1024 * 1024 : 0;

    [GeneratedRegex(@"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")]
    private static partial Regex MappingHeader();

    [GeneratedRegex(@"(?:^| )-m (\d+)M")]
    private static partial Regex MemoryOption();
}
