namespace Moat.Integration.Tests.Docker;

/// <summary><c>docker run --runtime=moat</c> on a private dockerd: Docker drives moat through containerd's runc shim.</summary>
[Collection("vm")]
public sealed class DockerTests : IClassFixture<DockerFixture>, IAsyncLifetime
{
    private readonly DockerFixture _docker;
    private readonly EngineCli _cli;

    public DockerTests(DockerFixture docker)
    {
        _docker = docker;
        _cli = new EngineCli("docker", args => docker.Docker(args));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>After each test: no moat shim, relay or QEMU is left.</summary>
    public Task DisposeAsync() => EngineCli.AssertNothingLeftAsync(EngineCli.CliSandboxProcesses, async () =>
    {
        foreach (var c in (await _docker.Docker("ps", "-aq")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            await _docker.Docker("rm", "-f", c);
        }
    }, _docker.Dir);


    private Task<CmdResult> Run(params string[] args) =>
        _docker.Docker(["run", "--rm", "--runtime=moat", "--network", "none", "busybox", .. args]);

    [Fact]
    public async Task RunPrintsTheGuestKernelAndExitCodesComeBack()
    {
        var r = await Run("uname", "-r");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), r.Stdout.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+-\d+-amd64$", r.Stdout.Trim());
        Assert.Equal(42, (await Run("sh", "-c", "exit 42")).ExitCode);
    }

    [Fact]
    public async Task MoatsOwnReasonReachesDockersErrorThroughTheRuncShimsJsonLog()
    {
        // containerd's runc shim runs moat with --log FILE --log-format json and, on a failure,
        // reads the last {"level":"error","msg":...} line into the error Docker shows.
        var r = await Run("/nonexistent/program");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("/nonexistent/program", r.Stderr);
        Assert.Contains("No such file or directory", r.Stderr);
        Assert.DoesNotContain("exit status 1: unknown", r.Stderr); // the reason, not just runc's exit status
        // There but not executable: as with runc, create fails (its look-up wants an execute bit).
        r = await Run("/etc/passwd");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("exec \"/etc/passwd\": Permission denied", r.Stderr);
    }

    /// <summary>Issue 18 through Docker (<see cref="EngineCli.RestartStopKillAndRmForceRepeated"/>).</summary>
    [Fact]
    public Task RestartStopKillAndRmForceRepeatedWithAndWithoutATty() => _cli.RestartStopKillAndRmForceRepeated("moat");

    [Fact]
    public async Task CpuLimitAddsVcpusToTheVmAndShowsInTheContainersOwnCgroup()
    {
        // --cpus 1.5 rounds up to two vCPUs on top of the configured one, capped at the host's CPUs.
        // The container sees its own cgroup (a cgroup namespace, as on a cgroup v2 host) with the limit.
        var r = await _docker.Docker("run", "--rm", "--runtime=moat", "--network", "none", "--cpus", "1.5", "busybox",
            "sh", "-c", "nproc; cat /proc/self/cgroup /sys/fs/cgroup/cpu.max");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal([Math.Min(1 + 2, Environment.ProcessorCount).ToString(System.Globalization.CultureInfo.InvariantCulture), "0::/", "150000 100000"],
            r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>
    /// Issue 16 item 5: Docker names the container's cgroup (/docker/ID); the VM's QEMU, its shim
    /// daemon and the relay Docker knows as the container's pid live there, with the memory limit
    /// plus the VM's overhead, so docker stats reads the VM's cost; the cgroup goes with the container.
    /// </summary>
    [Fact]
    public async Task TheContainersCgroupHoldsItsVmAndDockerStatsReadIt()
    {
        var name = "moat-" + Guid.NewGuid().ToString("N")[..8];
        await _cli.Ok("run", "-d", "--name", name, "--runtime=moat", "--network", "none", "--memory", "256m", "--oom-score-adj", "300", "busybox",
            "sh", "-c", "cat /proc/self/oom_score_adj; sleep 600");
        try
        {
            var id = await _cli.Inspect(name, "{{.Id}}");
            var relay = int.Parse(await _cli.Inspect(name, "{{.State.Pid}}"), System.Globalization.CultureInfo.InvariantCulture);
            var memory = Directory.Exists("/sys/fs/cgroup/memory") ? $"/sys/fs/cgroup/memory/docker/{id}" : $"/sys/fs/cgroup/docker/{id}";
            var procs = File.ReadAllLines(Path.Combine(memory, "cgroup.procs"));
            Assert.Contains(relay.ToString(System.Globalization.CultureInfo.InvariantCulture), procs);
            var qemu = procs.Single(p => File.ReadAllText($"/proc/{p}/cmdline").StartsWith("/usr/bin/qemu-system", StringComparison.Ordinal));
            // The OOM rank the caller gave: the container's process in the guest, and its VM on the host.
            Assert.Equal("300", File.ReadAllText($"/proc/{qemu}/oom_score_adj").Trim());
            Assert.Equal("300", File.ReadAllText($"/proc/{relay}/oom_score_adj").Trim());
            await _cli.WaitUp(name, "300", 1);
            var limit = long.Parse(File.ReadAllText(Path.Combine(memory, File.Exists(Path.Combine(memory, "memory.max")) ? "memory.max" : "memory.limit_in_bytes")), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(limit >= (256L << 20) + global::Moat.Runtime.HostCgroup.VmOverheadBytes, $"limit {limit}");
            VmCharge.AssertChargedFor(memory, int.Parse(qemu, System.Globalization.CultureInfo.InvariantCulture)); // what docker stats reads
            // docker stats reads it through containerd's runc shim, which must find every hierarchy
            // /proc/PID/cgroup lists among the mounts: a host with one unmounted (seen here: hugetlb)
            // gives runc's containers "0B / 0B" too. Moat's must read as runc's do on this host.
            var stats = await _docker.Docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name);
            Assert.True(stats.ExitCode == 0, stats.ToString());
            if (await RuncStatsReadMemory())
            {
                Assert.Matches(@"^[1-9][0-9.]*MiB / ", stats.Stdout.Trim()); // QEMU's resident memory, not 0B
            }
            else
            {
                Assert.Equal("0B / 0B", stats.Stdout.Trim());
            }
            await _cli.Ok("rm", "-f", name);
            Assert.False(Directory.Exists(memory), "the container's cgroup must go with it");
        }
        finally
        {
            await _docker.Docker("rm", "-f", name);
        }
    }

    /// <summary>Whether docker stats gives a runc container's memory on this host.</summary>
    private async Task<bool> RuncStatsReadMemory()
    {
        var name = "runc-" + Guid.NewGuid().ToString("N")[..8];
        await _cli.Ok("run", "-d", "--name", name, "--runtime=runc", "--network", "none", "--memory", "256m", "busybox", "sleep", "600");
        try
        {
            var stats = await _docker.Docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name);
            Assert.True(stats.ExitCode == 0, stats.ToString());
            return stats.Stdout.Trim() != "0B / 0B";
        }
        finally
        {
            await _docker.Docker("rm", "-f", name);
        }
    }

    [Fact]
    public async Task StdinReachesTheContainerAndTtyGivesAPty()
    {
        var r = await _docker.DockerWithInput("hello from stdin\n", "run", "--rm", "-i", "--runtime=moat", "--network", "none", "busybox", "cat");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello from stdin\n", r.Stdout);
        r = await _docker.Docker("run", "--rm", "-t", "--runtime=moat", "--network", "none", "busybox", "tty");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("/dev/pts/", r.Stdout);
    }

    [Fact]
    public async Task DetachedContainerLogsExecsAndStopsWithSigterm()
    {
        var name = "moat-" + Guid.NewGuid().ToString("N")[..8];
        var r = await _docker.Docker("run", "-d", "--name", name, "--runtime=moat", "--network", "none", "busybox",
            "sh", "-c", "echo hello-logs; trap 'echo got-term; exit 0' TERM; while true; do sleep 0.2; done");
        Assert.True(r.ExitCode == 0, r.ToString());
        try
        {
            for (var i = 0; i < 100 && !(await _docker.Docker("logs", name)).Stdout.Contains("hello-logs", StringComparison.Ordinal); i++)
            {
                await Task.Delay(200);
            }
            Assert.Contains("hello-logs", (await _docker.Docker("logs", name)).Stdout);
            r = await _docker.Docker("exec", name, "sh", "-c", "echo in-exec; exit 3");
            Assert.Equal(3, r.ExitCode);
            Assert.Equal("in-exec\n", r.Stdout);
            Assert.Equal("moat", (await _docker.Docker("inspect", "-f", "{{.HostConfig.Runtime}}", name)).Stdout.Trim());
            r = await _docker.Docker("stop", name);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("got-term", (await _docker.Docker("logs", name)).Stdout);
            Assert.Equal("0", (await _docker.Docker("inspect", "-f", "{{.State.ExitCode}}", name)).Stdout.Trim());
        }
        finally
        {
            await _docker.Docker("rm", "-f", name);
        }
    }

    /// <summary>Docker's own default profile, and --cap-drop ALL: a filter and no capability.</summary>
    [Fact]
    public async Task DefaultSeccompProfileAndCapDropAllAreEnforced()
    {
        var r = await _docker.Docker("run", "--rm", "--runtime=moat", "--network", "none", "--cap-drop", "ALL", "busybox", "sh", "-c", GuestPrivileges.StatusScript);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("2", GuestPrivileges.Parse(r.Stdout)["Seccomp"]);
        GuestPrivileges.AssertNoCapabilities(r.Stdout);
    }

    [Fact]
    public async Task SecurityOptSeccompProfileIsEnforced()
    {
        var profile = Path.Combine(_docker.Dir, "block-sethostname.json");
        File.WriteAllText(profile, GuestPrivileges.BlockSethostname().ToJsonString());
        var r = await _docker.Docker("run", "--rm", "--runtime=moat", "--network", "none", "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=" + profile,
            "busybox", "sh", "-c", GuestPrivileges.StatusAndHostnameScript);
        Assert.True(r.ExitCode == 0, r.ToString());
        GuestPrivileges.AssertSethostnameBlocked(r.Stdout);
    }
}
