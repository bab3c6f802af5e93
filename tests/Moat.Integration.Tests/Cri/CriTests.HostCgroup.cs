namespace Moat.Integration.Tests.Cri;

/// <summary>
/// Issue 16 item 5: kubelet accounts a pod by its cgroup. The sandbox's host processes (QEMU and
/// the shim daemon) go into the cgroup CRI names for the pod sandbox (CgroupParent/ID with the
/// cgroupfs driver), in every hierarchy of the host, and it is removed with the pod.
/// </summary>
public sealed partial class CriTests
{
    [Fact]
    public async Task ThePodsQemuAndShimLiveInTheCgroupCriNamedAndItGoesWithThePod()
    {
        var parent = "moattest-" + Guid.NewGuid().ToString("N")[..8];
        var (pod, _) = await RunPod("hostcg", edit: c => c.Linux.CgroupParent = "/" + parent);
        var expected = $"/{parent}/{pod}";
        var qemu = Pid(Leftovers.Processes("qemu", c => c.Contains("qemu-system", StringComparison.Ordinal) && c.Contains(pod, StringComparison.Ordinal)).Single());
        var shim = Pid(Leftovers.ShimProcesses().Single(s => File.ReadAllText($"/proc/{Pid(s)}/cmdline").Contains(pod, StringComparison.Ordinal)));
        foreach (var pid in new[] { qemu, shim })
        {
            var lines = File.ReadAllLines($"/proc/{pid}/cgroup");
            var memory = lines.FirstOrDefault(l => l.Split(':')[1] == "memory") ?? lines.Single(l => l.StartsWith("0::", StringComparison.Ordinal));
            Assert.EndsWith(":" + expected, memory);
        }
        var hierarchy = Directory.Exists("/sys/fs/cgroup/memory") ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup";
        Assert.True(Directory.Exists(hierarchy + expected));
        VmCharge.AssertChargedFor(hierarchy + expected, qemu);

        await Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = pod });
        await Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = pod });
        _pods.Remove(pod);
        Assert.False(Directory.Exists(hierarchy + expected), "the sandbox's cgroup must go with it");
        Assert.False(Directory.Exists($"{hierarchy}/{parent}"), "and the parent it made");
    }

    private static int Pid(string leftover) => int.Parse(leftover.Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
}
