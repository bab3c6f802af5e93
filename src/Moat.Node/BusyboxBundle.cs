using System.Text.Json;
using Moat.Oci;
using Moat.Runtime;

namespace Moat.Node;

/// <summary>
/// Moat's built-in image: an OCI bundle whose rootfs is Debian's static busybox with its applet
/// links, for the demo, the tests and the benchmarks (no registry is needed).
/// </summary>
public static class BusyboxBundle
{
    public const string DefaultBusybox = "/bin/busybox";

    public static void Create(string bundleDir, IReadOnlyList<string> args, string busybox = DefaultBusybox, bool terminal = false)
    {
        if (!File.Exists(busybox))
        {
            throw new RuntimeException(RuntimeErrorKind.MissingDependency,
                $"{busybox} not found: install it with 'apt-get install busybox-static'");
        }
        var rootfs = Path.Combine(bundleDir, "rootfs");
        foreach (var d in new[] { "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var/www", "home" })
        {
            Directory.CreateDirectory(Path.Combine(rootfs, d));
        }
        File.Copy(busybox, Path.Combine(rootfs, "bin/busybox"), overwrite: true);
        File.SetUnixFileMode(Path.Combine(rootfs, "tmp"), (UnixFileMode)0x3ff); // 1777
        foreach (var applet in Applets(busybox))
        {
            var link = Path.Combine(rootfs, "bin", applet);
            if (applet != "busybox" && !File.Exists(link) && new FileInfo(link).LinkTarget is null)
            {
                File.CreateSymbolicLink(link, "busybox");
            }
        }
        File.WriteAllText(Path.Combine(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n");
        File.WriteAllText(Path.Combine(rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
        var spec = DefaultSpec.Create(args, terminal);
        spec.Root!.Readonly = false;
        File.WriteAllText(Path.Combine(bundleDir, "config.json"), JsonSerializer.Serialize(spec, OciJsonContext.Default.Spec));
    }

    /// <summary>The applet list busybox prints, or a basic set if it cannot be run here.</summary>
    private static IEnumerable<string> Applets(string busybox)
    {
        try
        {
            var psi = new System.Diagnostics.ProcessStartInfo(busybox, "--list") { RedirectStandardOutput = true };
            using var p = System.Diagnostics.Process.Start(psi)!;
            var list = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            p.WaitForExit();
            if (list.Length > 0)
            {
                return list;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
        return ["sh", "cat", "echo", "ls", "uname", "id", "env", "sleep", "true", "false", "hostname", "pwd", "touch", "mount", "httpd", "wget"];
    }
}
