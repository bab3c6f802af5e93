namespace Moat.Integration.Tests.Cri;

/// <summary>
/// Issue 16 item 1: a privileged workload gets the kernel modules it asks for, as on a host: the
/// guest kernel's request_module runs the guest's /sbin/modprobe, which loads from the VM's
/// read-only modules disk (every module of the Debian kernel package), by name or by alias.
/// </summary>
public sealed partial class CriTests
{
    [Fact]
    public async Task APrivilegedContainerGetsTheKernelModulesItAsksFor()
    {
        var (pod, podConfig) = await RunPod("modules", edit: c => c.Linux.SecurityContext.Privileged = true);
        var c = await StartContainer(pod, podConfig, "main", ["sleep", "300"], edit: cc =>
            cc.Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext { Privileged = true } });

        // bridge by its own name (brctl's ioctl), dummy by the alias rtnetlink asks for (rtnl-link-dummy).
        var r = await Exec(c, "sh", "-c",
            "grep -c '^bridge ' /proc/modules; brctl addbr foobar && ip link show foobar > /dev/null && echo bridge-added; grep -c '^bridge ' /proc/modules;"
            + " ip link add d0 type dummy && ip link show d0 > /dev/null && echo dummy-added; grep -c '^dummy ' /proc/modules");
        Assert.True(r.ExitCode == 0, Text(r.Stdout) + Text(r.Stderr));
        Assert.Equal(["0", "bridge-added", "1", "dummy-added", "1"], Text(r.Stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
