using System.Text.Json.Nodes;

namespace Moat.Integration.Tests;

/// <summary>
/// What the container's process holds in the guest (issue 14, item 8): its five capability sets,
/// its seccomp mode and no_new_privs, read from /proc/self/status, and seccomp profiles to apply.
/// </summary>
public static class GuestPrivileges
{
    /// <summary>Prints the process's Cap*, Seccomp and NoNewPrivs lines (grep reads its own status: what sh passed on at exec).</summary>
    public const string StatusScript = "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|Seccomp|NoNewPrivs):' /proc/self/status";

    /// <summary>Tries to set the hostname, printing busybox's error and "hostname-rc=N".</summary>
    public const string HostnameScript = "hostname moat-seccomp-test 2>&1; echo hostname-rc=$?";

    public const string StatusAndHostnameScript = StatusScript + "; " + HostnameScript;

    /// <summary>For an exec: the status of the container's init (pid 1 of its namespace), then of the exec'd process, each after "== PID".</summary>
    public const string InitAndSelfScript = "for p in 1 self; do echo \"== $p\"; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|Seccomp|NoNewPrivs):' /proc/$p/status; done";

    /// <summary>The two halves of <see cref="InitAndSelfScript"/>'s output.</summary>
    public static (string Init, string Self) SplitInitAndSelf(string stdout)
    {
        var self = stdout.IndexOf("== self", StringComparison.Ordinal);
        Assert.True(stdout.StartsWith("== 1", StringComparison.Ordinal) && self > 0, stdout);
        return (stdout[..self], stdout[self..]);
    }

    public static readonly string[] CapabilitySets = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"];

    /// <summary>CAP_SYS_ADMIN: with it sethostname succeeds in the container's own UTS namespace, so only a filter makes it fail.</summary>
    public const int SysAdmin = 21;

    /// <summary>Allows everything but sethostname(2), which fails with EPERM (ERRNO without errnoRet), on every x86 ABI.</summary>
    public static JsonObject BlockSethostname() => new()
    {
        ["defaultAction"] = "SCMP_ACT_ALLOW",
        ["architectures"] = new JsonArray("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        ["syscalls"] = new JsonArray(new JsonObject { ["names"] = new JsonArray("sethostname"), ["action"] = "SCMP_ACT_ERRNO" }),
    };

    /// <summary>"Name: value" lines as a dictionary.</summary>
    public static Dictionary<string, string> Parse(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.Contains(':', StringComparison.Ordinal) && !l.StartsWith("hostname", StringComparison.Ordinal) && !l.StartsWith("==", StringComparison.Ordinal))
            .ToDictionary(l => l[..l.IndexOf(':', StringComparison.Ordinal)], l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim());

    /// <summary>All five sets are empty, as runc leaves a process whose spec grants no capability.</summary>
    public static void AssertNoCapabilities(string stdout)
    {
        var status = Parse(stdout);
        foreach (var set in CapabilitySets)
        {
            Assert.True(status.TryGetValue(set, out var value), $"no {set} in: {stdout}");
            Assert.True(value == "0000000000000000", $"{set} is {value}, not empty: {stdout}");
        }
    }

    /// <summary>The process runs under a seccomp filter (mode 2) and sethostname failed with EPERM, not for want of CAP_SYS_ADMIN.</summary>
    public static void AssertSethostnameBlocked(string stdout)
    {
        var status = Parse(stdout);
        Assert.True(status.GetValueOrDefault("Seccomp") == "2", $"no seccomp filter: {stdout}");
        Assert.True((Convert.ToUInt64(status["CapEff"], 16) & (1UL << SysAdmin)) != 0, $"CAP_SYS_ADMIN is not held, so EPERM proves nothing: {stdout}");
        Assert.Contains("Operation not permitted", stdout);
        Assert.Contains("hostname-rc=1", stdout);
    }
}
