using Moat.Oci;

namespace Moat.Agent.Tests;

/// <summary>
/// What the agent writes into a container's cgroup for the spec's resources, against a directory
/// standing for /sys/fs/cgroup: no guest kernel, no root.
/// </summary>
public sealed class CgroupsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("moat-cgroups-").FullName;

    private string Read(string id, string file) => File.ReadAllText(Path.Combine(_root, "containers", id, file));

    [Fact]
    public void TheSpecsLimitsBecomeTheCgroupV2Files()
    {
        var cgroups = new Cgroups(_root);
        cgroups.Create("c1", new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 256L << 20, Swap = 384L << 20 },
            Cpu = new LinuxCpu { Quota = 50000, Period = 100000, Shares = 1024 },
            Pids = new LinuxPids { Limit = 64 },
        });
        Assert.Equal((256L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), Read("c1", "memory.max"));
        Assert.Equal((128L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), Read("c1", "memory.swap.max")); // v1 swap counts memory too
        Assert.Equal("50000 100000", Read("c1", "cpu.max"));
        Assert.Equal("39", Read("c1", "cpu.weight")); // runc's shares -> weight: 1 + (1024 - 2) * 9999 / 262142
        Assert.Equal("64", Read("c1", "pids.max"));
    }

    [Fact]
    public void NoResourcesWriteNothingAndAnUpdateOnlyWhatItSets()
    {
        var cgroups = new Cgroups(_root);
        cgroups.Create("c1", null);
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "containers", "c1")));
        cgroups.Apply("c1", new LinuxResources { Cpu = new LinuxCpu { Quota = 200000 } });
        Assert.Equal(["cpu.max"], Directory.GetFiles(Path.Combine(_root, "containers", "c1")).Select(Path.GetFileName));
        Assert.Equal("200000 100000", Read("c1", "cpu.max")); // the default period
    }

    [Fact]
    public void AJoinWritesThePidAndStatsReadWhatIsThere()
    {
        var cgroups = new Cgroups(_root);
        cgroups.Create("c1", null);
        cgroups.Join("c1", 4242);
        Assert.Equal("4242", Read("c1", "cgroup.procs"));
        File.WriteAllText(Path.Combine(_root, "containers", "c1", "memory.current"), "8192\n");
        var stats = cgroups.Read("c1");
        Assert.Equal("8192\n", stats["memory.current"]);
        Assert.False(stats.ContainsKey("cpu.stat")); // a controller the kernel lacks is simply absent
    }

    [Fact]
    public void AWriteTheKernelRefusesNamesTheFileAndTheValue()
    {
        var cgroups = new Cgroups(_root);
        cgroups.Create("c1", null);
        Directory.CreateDirectory(Path.Combine(_root, "containers", "c1", "pids.max")); // not writable as a file
        var e = Assert.ThrowsAny<IOException>(() => cgroups.Apply("c1", new LinuxResources { Pids = new LinuxPids { Limit = 10 } }));
        Assert.StartsWith("cgroup pids.max = 10: ", e.Message);
    }

    [Fact]
    public void RemoveLeavesAGroupThatStillHasProcesses()
    {
        var cgroups = new Cgroups(_root);
        cgroups.Create("c1", null);
        cgroups.Join("c1", 1); // a file inside: like a group the kernel still has processes in, rmdir fails
        cgroups.Remove("c1");
        Assert.True(Directory.Exists(cgroups.PathOf("c1")));
        File.Delete(Path.Combine(cgroups.PathOf("c1"), "cgroup.procs"));
        cgroups.Remove("c1");
        Assert.False(Directory.Exists(cgroups.PathOf("c1")));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
