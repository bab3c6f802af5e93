using Moat.Oci;

namespace Moat.Runtime.Tests;

/// <summary>The host cgroup of a sandbox, on a stand-in cgroup tree (a temp directory named by a fake mountinfo).</summary>
public sealed class HostCgroupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moat-hostcg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("/kubepods/burstable/pod1/abc", "kubepods/burstable/pod1/abc")]
    [InlineData("docker/abc", "docker/abc")]
    [InlineData("kubepods-burstable-pod1.slice:cri-containerd:abc", "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope")]
    [InlineData("system.slice:docker:abc", "system.slice/docker-abc.scope")]
    [InlineData(":libpod:abc", "libpod-abc.scope")]
    [InlineData("machine.slice:libpod:inner.slice", "machine.slice/inner.slice")]
    public void BothFormsOfCgroupsPathNameTheSameKindOfPath(string cgroupsPath, string relative) =>
        Assert.Equal(relative, HostCgroup.ToRelativePath(cgroupsPath));

    [Theory]
    [InlineData("/")]
    [InlineData("/a/../b")]
    [InlineData("a//b")]
    [InlineData("kubepods:cri:abc")]
    public void APathOutsideTheRootOrMalformedIsRefusedNamingIt(string cgroupsPath)
    {
        var e = Assert.Throws<RuntimeException>(() => HostCgroup.ToRelativePath(cgroupsPath));
        Assert.StartsWith($"linux.cgroupsPath \"{cgroupsPath}\": ", e.Message);
    }

    [Fact]
    public void AHybridHostListsEveryV1HierarchyAndTheUnifiedOne()
    {
        var h = HostCgroup.Hierarchies_(
        [
            "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
            "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
            "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
            "38 30 0:35 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd",
            "39 30 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
            "40 30 0:37 /sub /mnt/bound rw,relatime - cgroup cgroup rw,pids",
        ]);
        Assert.Equal([("/sys/fs/cgroup/cpu", "cpu"), ("/sys/fs/cgroup/memory", "memory"), ("/sys/fs/cgroup/systemd", "name=systemd"), ("/sys/fs/cgroup/unified", "")], h);
    }

    [Fact]
    public void OnV1ItIsMadeInEveryHierarchyWithCpusetsInheritedLimitsWrittenAndRemovedWhenDone()
    {
        var mountinfo = FakeTree(("cpuset", "cgroup"), ("cpu", "cgroup"), ("memory", "cgroup"), ("pids", "cgroup"));
        File.WriteAllText(Path.Combine(_dir, "cpuset", "cpuset.cpus"), "0-1\n");
        File.WriteAllText(Path.Combine(_dir, "cpuset", "cpuset.mems"), "0\n");
        Directory.CreateDirectory(Path.Combine(_dir, "memory", "kubepods"));
        var cg = HostCgroup.Create("/kubepods/pod1", mountinfo)!;
        Assert.Equal("kubepods/pod1", cg.Relative);
        foreach (var h in new[] { "cpuset", "cpu", "memory", "pids" })
        {
            Assert.True(Directory.Exists(Path.Combine(_dir, h, "kubepods", "pod1")), h);
        }
        Assert.Equal("0-1", File.ReadAllText(Path.Combine(_dir, "cpuset", "kubepods", "cpuset.cpus")));
        Assert.Equal("0-1", File.ReadAllText(Path.Combine(_dir, "cpuset", "kubepods", "pod1", "cpuset.cpus")));

        cg.Join(4242);
        Assert.Equal("4242", File.ReadAllText(Path.Combine(_dir, "memory", "kubepods", "pod1", "cgroup.procs")));
        cg.Apply(new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 256L << 20 },
            Cpu = new LinuxCpu { Shares = 512, Quota = 150000, Period = 100000 },
            Pids = new LinuxPids { Limit = 100 },
        }, vmMemoryBytes: 768L << 20);
        Assert.Equal(((768L << 20) + HostCgroup.VmOverheadBytes).ToString(System.Globalization.CultureInfo.InvariantCulture),
            File.ReadAllText(Path.Combine(_dir, "memory", "kubepods", "pod1", "memory.limit_in_bytes")));
        Assert.Equal("512", File.ReadAllText(Path.Combine(_dir, "cpu", "kubepods", "pod1", "cpu.shares")));
        Assert.Equal("150000", File.ReadAllText(Path.Combine(_dir, "cpu", "kubepods", "pod1", "cpu.cfs_quota_us")));
        Assert.Equal("100", File.ReadAllText(Path.Combine(_dir, "pids", "kubepods", "pod1", "pids.max")));
        Assert.False(File.Exists(Path.Combine(_dir, "cpu", "kubepods", "pod1", "memory.limit_in_bytes")));

        foreach (var f in Directory.GetFiles(_dir, "*", SearchOption.AllDirectories).Where(f => f.Contains("pod1", StringComparison.Ordinal)))
        {
            File.Delete(f); // a real group's files go with it
        }
        Directory.CreateDirectory(Path.Combine(_dir, "pids", "kubepods", "other")); // another's group, made meanwhile
        cg.Remove();
        Assert.False(Directory.Exists(Path.Combine(_dir, "cpu", "kubepods"))); // made by it: removed
        Assert.True(Directory.Exists(Path.Combine(_dir, "pids", "kubepods", "other"))); // made by it, but holds another's: kept
        Assert.True(Directory.Exists(Path.Combine(_dir, "memory", "kubepods"))); // there before: kept
        Assert.False(Directory.Exists(Path.Combine(_dir, "memory", "kubepods", "pod1")));
    }

    [Fact]
    public void WhatADeadShimLeftIsRemovedButNotItsParentOrAGroupWithChildren()
    {
        var mountinfo = FakeTree(("cpu", "cgroup"), ("memory", "cgroup"));
        Directory.CreateDirectory(Path.Combine(_dir, "cpu", "ns", "c1"));
        Directory.CreateDirectory(Path.Combine(_dir, "memory", "ns", "c1", "child"));
        HostCgroup.RemoveLeft("/ns/c1", mountinfo);
        Assert.False(Directory.Exists(Path.Combine(_dir, "cpu", "ns", "c1")));
        Assert.True(Directory.Exists(Path.Combine(_dir, "cpu", "ns")));
        Assert.True(Directory.Exists(Path.Combine(_dir, "memory", "ns", "c1", "child")));
        HostCgroup.RemoveLeft(null, mountinfo); // nothing named: nothing done
    }

    [Fact]
    public void OptionalKnobsAreWrittenWhereTheHostHasThem()
    {
        var mountinfo = FakeTree(("cpuset", "cgroup"), ("blkio", "cgroup"), ("net_cls", "cgroup"));
        File.WriteAllText(Path.Combine(_dir, "cpuset", "cpuset.cpus"), "0-3");
        File.WriteAllText(Path.Combine(_dir, "cpuset", "cpuset.mems"), "0");
        var cg = HostCgroup.Create("/c1", mountinfo)!;
        File.WriteAllText(Path.Combine(_dir, "blkio", "c1", "blkio.weight"), "500"); // the kernel's file, with its default
        cg.Apply(new LinuxResources
        {
            Cpu = new LinuxCpu { Cpus = "1", Mems = "0" },
            BlockIO = new LinuxBlockIO { Weight = 300 },
            Network = new LinuxNetwork { ClassId = 0x100001 },
            HugepageLimits = [new LinuxHugepageLimit { PageSize = "2MB", Limit = 1 << 21 }],
        }, vmMemoryBytes: 0);
        Assert.Equal("1", File.ReadAllText(Path.Combine(_dir, "cpuset", "c1", "cpuset.cpus")));
        Assert.Equal("300", File.ReadAllText(Path.Combine(_dir, "blkio", "c1", "blkio.weight")));
        Assert.False(File.Exists(Path.Combine(_dir, "net_cls", "c1", "net_cls.classid"))); // no such knob on this stand-in: skipped
        Assert.Empty(Directory.GetFiles(_dir, "hugetlb*", SearchOption.AllDirectories)); // no hugetlb hierarchy: nothing written
    }

    [Fact]
    public void OnV2LimitsUseTheUnifiedFilesAndWeight()
    {
        var mountinfo = FakeTree(("unified", "cgroup2"));
        var cg = HostCgroup.Create("system.slice:docker:abc", mountinfo)!;
        cg.Apply(new LinuxResources { Memory = new LinuxMemory { Limit = 1L << 30 }, Cpu = new LinuxCpu { Shares = 1024, Quota = 50000, Period = 100000 } }, vmMemoryBytes: 512L << 20);
        var dir = Path.Combine(_dir, "unified", "system.slice", "docker-abc.scope");
        Assert.Equal(((1L << 30) + HostCgroup.VmOverheadBytes).ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(dir, "memory.max")));
        Assert.Equal("50000 100000", File.ReadAllText(Path.Combine(dir, "cpu.max")));
        Assert.Equal("39", File.ReadAllText(Path.Combine(dir, "cpu.weight"))); // runc's 1024 shares
        // Each controller is enabled down to the group (the stand-in file keeps only the last write).
        Assert.Equal("+hugetlb", File.ReadAllText(Path.Combine(_dir, "unified", "system.slice", "cgroup.subtree_control")));
    }

    private string FakeTree(params (string Name, string Type)[] hierarchies)
    {
        var lines = new List<string>();
        var n = 40;
        foreach (var (name, type) in hierarchies)
        {
            Directory.CreateDirectory(Path.Combine(_dir, name));
            lines.Add($"{n++} 30 0:{n} / {Path.Combine(_dir, name)} rw,relatime - {type} {type} rw{(type == "cgroup" ? "," + name : "")}");
        }
        var path = Path.Combine(_dir, "mountinfo");
        File.WriteAllLines(path, lines);
        return path;
    }
}
