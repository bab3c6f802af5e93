namespace Moat.Integration.Tests.Cri;

/// <summary>
/// A pod's sandbox (pause) container is held by the agent without its program. What pause gives
/// a pod must still be there: in a pod sharing its PID namespace a PID 1 named "pause" that reaps
/// orphans and whose root the pod's containers cannot open; the pod's hostname and its namespaced
/// sysctls in the namespaces the containers join. Through Moat's shim and through containerd's
/// runc shim with Moat as its binary.
/// </summary>
public sealed partial class CriTests
{
    [Theory]
    [InlineData("moat")]
    [InlineData(CriFixture.RuncShimHandler)]
    public async Task ThePodsHeldSandboxIsPause(string handler)
    {
        var (pod, podConfig) = await RunPod("holder", handler, config =>
        {
            config.Linux.SecurityContext.NamespaceOptions.Pid = NamespaceMode.Pod; // shareProcessNamespace
            config.Linux.Sysctls.Add("kernel.shm_rmid_forced", "1"); // IPC namespace
            config.Linux.Sysctls.Add("net.ipv4.ip_unprivileged_port_start", "80"); // the pod's network
        });
        // The subshell exits at once: its sleep is orphaned to the pod's PID 1 and must be reaped there.
        var c = await StartContainer(pod, podConfig, "main", ["sh", "-c", "(sleep 0.5 &); sleep 300"]);
        var reaped = await Exec(c, "sh", "-c",
            "sleep 1; for i in $(seq 100); do cat /proc/[0-9]*/stat | grep -q ') Z ' || exit 0; sleep 0.2; done; cat /proc/[0-9]*/stat; exit 1");
        Assert.True(reaped.ExitCode == 0, "an orphan was not reaped: " + Text(reaped.Stdout));
        Assert.Equal("pause\n", Text((await Exec(c, "cat", "/proc/1/comm")).Stdout));

        var root = await Exec(c, "ls", "/proc/1/root/");
        Assert.NotEqual(0, root.ExitCode);
        Assert.Contains("Permission denied", Text(root.Stderr));

        var settings = await Exec(c, "sh", "-c", "hostname; cat /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ip_unprivileged_port_start");
        Assert.Equal(["holder", "1", "80"], Text(settings.Stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var status = await Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod });
        Assert.Equal(PodSandboxState.SandboxReady, status.Status.State);
    }
}
