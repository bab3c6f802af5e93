using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace Moat.Runtime.Tests;

/// <summary>
/// Every named constant of the interop layer (errno values, flags, ioctl numbers, syscall numbers)
/// against the C headers of the machine the tests run on: clang compiles a program that prints
/// each name the headers define, and the values must match.
/// </summary>
public sealed class InteropConstantsTests
{
    private static readonly string[] Headers =
    [
        "errno.h", "fcntl.h", "sched.h", "signal.h", "time.h", "unistd.h", "sys/ioctl.h", "sys/mman.h", "sys/mount.h",
        "sys/personality.h", "sys/prctl.h", "sys/reboot.h", "sys/syscall.h", "sys/wait.h", "linux/audit.h",
        "linux/capability.h", "linux/kvm.h", "linux/openat2.h", "linux/random.h", "linux/seccomp.h",
    ];

    private static IEnumerable<(string Name, long Value)> Constants()
    {
        var types = new[] { typeof(Moat.Linux.Interop.Libc), typeof(VmmConfinement), typeof(Moat.Hypervisor.AcceleratorProbe) };
        foreach (var field in types.SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)))
        {
            if (!field.IsLiteral || field.GetRawConstantValue() is not { } raw || raw is string)
            {
                continue;
            }
            var value = raw switch
            {
                ulong u => unchecked((long)u),
                _ => Convert.ToInt64(raw, System.Globalization.CultureInfo.InvariantCulture),
            };
            yield return (field.Name, value);
        }
    }

    [Fact]
    public async Task ConstantsMatchTheBuildMachinesHeaders()
    {
        var constants = Constants().ToList();
        var dir = Directory.CreateTempSubdirectory("interop-").FullName;
        try
        {
            var c = new StringBuilder("#define _GNU_SOURCE\n#include <stdio.h>\n");
            foreach (var h in Headers)
            {
                c.Append("#include <").Append(h).Append(">\n");
            }
            c.Append("int main(void) {\n");
            for (var i = 0; i < constants.Count; i++)
            {
                var name = constants[i].Name;
                c.Append("#ifdef ").Append(name).Append("\n  printf(\"").Append(i).Append(" %lld\\n\", (long long)(").Append(name).Append("));\n#endif\n");
            }
            c.Append("  return 0;\n}\n");
            File.WriteAllText(Path.Combine(dir, "c.c"), c.ToString());
            Assert.True(File.Exists("/usr/bin/clang"), "clang is not installed: scripts/setup.sh installs it");
            var build = await RunAsync("/usr/bin/clang", "-o", Path.Combine(dir, "c"), Path.Combine(dir, "c.c"));
            Assert.True(build.Code == 0, build.Output);
            var run = await RunAsync(Path.Combine(dir, "c"));
            Assert.True(run.Code == 0, run.Output);
            var byIndex = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' '))
                .ToDictionary(f => int.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture), f => long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture));
            var wrong = byIndex.Where(kv => constants[kv.Key].Value != kv.Value)
                .Select(kv => $"{constants[kv.Key].Name}: ours {constants[kv.Key].Value}, headers {kv.Value}").ToList();
            var fromHeaders = byIndex.Keys.Select(i => constants[i].Name).ToHashSet();
            Assert.True(wrong.Count == 0, string.Join("; ", wrong));
            // Most names are C macros; enum members and Moat's own names are not checked.
            Assert.True(fromHeaders.Count >= constants.Count * 2 / 3, $"only {fromHeaders.Count} of {constants.Count} names were found in the headers");
            foreach (var must in new[] { "EEXIST", "EINTR", "F_DUPFD_CLOEXEC", "O_CLOEXEC", "SYS_openat2", "SYS_mount_setattr", "SYS_seccomp", "SYS_mknodat", "RESOLVE_BENEATH", "MOUNT_ATTR_RDONLY", "KVM_CREATE_VM" })
            {
                Assert.True(fromHeaders.Contains(must), $"{must} was not checked against the headers");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (p.ExitCode, await stdout + await stderr);
    }
}
