namespace Moat.Integration.Tests.Cri;

/// <summary>
/// Issue 16 item 12: a CRI pod through containerd's runc shim with moat as its binary (the
/// handler <c>moat-runc</c>: <c>io.containerd.runc.v2</c>, <c>BinaryName</c>), as Kata 1.x's
/// katacli ran. The app containers' specs join the pause container's namespaces by
/// <c>/proc/PID/ns/*</c> path; moat reads the CRI annotations and creates them in the pod's VM.
/// </summary>
public sealed partial class CriTests
{
    [Fact]
    public async Task APodThroughTheRuncShimWithMoatAsItsBinaryIsOneVmWithPodNetworking()
    {
        var (pod, podConfig) = await RunPod("runc-shim", handler: CriFixture.RuncShimHandler);
        var ip = (await Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod })).Status.Network.Ip;
        var first = await StartContainer(pod, podConfig, "first", ["sleep", "300"]);
        var second = await StartContainer(pod, podConfig, "second", ["sleep", "300"]);

        // Both run in the one VM the pause container booted: the guest's kernel and boot id.
        var a = await Exec(first, "sh", "-c", "uname -r; cat /proc/sys/kernel/random/boot_id; hostname; ip -4 -o addr show eth0");
        var b = await Exec(second, "sh", "-c", "uname -r; cat /proc/sys/kernel/random/boot_id; hostname; ip -4 -o addr show eth0");
        Assert.True(a.ExitCode == 0, Text(a.Stderr));
        Assert.True(b.ExitCode == 0, Text(b.Stderr));
        var al = Text(a.Stdout).Split('\n');
        var bl = Text(b.Stdout).Split('\n');
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), al[0]);
        Assert.Equal(al[1], bl[1]);
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim(), al[1]);
        // The pod's UTS namespace (its hostname) and its network (the pod IP CNI gave) are shared.
        Assert.Equal(["runc-shim", "runc-shim"], new[] { al[2], bl[2] });
        Assert.Contains($"inet {ip}/", al[3]);
        Assert.Contains($"inet {ip}/", bl[3]);
        Assert.Single(Leftovers.Processes("qemu", c => c.Contains("qemu-system", StringComparison.Ordinal) && c.Contains("moat-cli-", StringComparison.Ordinal)));

        // One container goes; the pod and the other carry on.
        await Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = first, Timeout = 2 });
        await Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = first });
        var after = await Exec(second, "echo", "still here");
        Assert.True(after.ExitCode == 0, Text(after.Stderr));
        Assert.Equal("still here\n", Text(after.Stdout));
        // DisposeAsync stops and removes the pod and finds nothing left (VM, shims, relays, state).
    }
}
