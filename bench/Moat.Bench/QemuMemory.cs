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
        void Add(string category, double kib) => result[category] = result.GetValueOrDefault(category) + kib / 1024.0;
        foreach (var m in Smaps.Read(pid))
        {
            var category = m.Path switch
            {
                "" when m.Size == ramBytes => GuestRam,
                // QEMU's only writable and executable memory: its translated code, in one mapping
                // per region (2 MiB each, guard pages between), as big in all as tb-size.
                "" when m.Perms == "rwxp" => TcgBuffer,
                _ when m.Path.Contains("/templates/", StringComparison.Ordinal) && m.Path.EndsWith("/memory", StringComparison.Ordinal) => TemplateRam,
                _ when m.Path.EndsWith("/vmlinux", StringComparison.Ordinal) => Kernel,
                _ when m.Path.EndsWith(".img", StringComparison.Ordinal) => Initrd,
                _ when m.Path.StartsWith('/') => Binaries,
                _ => OtherAnon,
            };
            Add(category, m.Of("Pss"));
            if (category == TemplateRam)
            {
                // A private file mapping's written pages are anonymous copies, counted whole in its PSS.
                Add(TemplateRam, -m.Of("Anonymous"));
                Add(TemplateCopies, m.Of("Anonymous"));
            }
        }

        return result;
    }

    private static long Mib(Match m) =>
        m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 1024 * 1024 : 0;

    [GeneratedRegex(@"(?:^| )-m (\d+)M")]
    private static partial Regex MemoryOption();
}
