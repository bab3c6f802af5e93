namespace Moat.Integration.Tests;

/// <summary>Whether a host cgroup is charged for the VM whose QEMU lives in it.</summary>
public static class VmCharge
{
    /// <summary>
    /// Asserts the memory cgroup directory <paramref name="group"/> (v1 or v2) is charged at least
    /// 90% of QEMU's anonymous memory: QEMU started in the group, so what its VM touched from the
    /// boot on is charged there (a process that moves in later leaves its earlier charges behind).
    /// </summary>
    public static void AssertChargedFor(string group, int qemuPid)
    {
        var usageFile = File.Exists(Path.Combine(group, "memory.current")) ? "memory.current" : "memory.usage_in_bytes";
        var usage = long.Parse(File.ReadAllText(Path.Combine(group, usageFile)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var anon = long.Parse(File.ReadAllLines($"/proc/{qemuPid}/status").Single(l => l.StartsWith("RssAnon:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1],
            System.Globalization.CultureInfo.InvariantCulture) * 1024;
        Assert.True(usage >= anon * 9 / 10, $"{group} is charged {usage >> 20} MiB, QEMU holds {anon >> 20} MiB of anonymous memory");
    }
}
