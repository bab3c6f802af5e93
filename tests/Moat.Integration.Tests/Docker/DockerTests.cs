namespace Moat.Integration.Tests.Docker;

/// <summary><c>docker run --runtime=moat</c> on a private dockerd: Docker drives moat through containerd's runc shim.</summary>
[Collection("vm")]
public sealed class DockerTests : IClassFixture<DockerFixture>, IAsyncLifetime
{
    private readonly DockerFixture _docker;

    public DockerTests(DockerFixture docker) => _docker = docker;

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>After each test: no moat shim, relay or QEMU is left.</summary>
    public async Task DisposeAsync()
    {
        List<string> left = [];
        for (var i = 0; i < 100 && (left = Remaining()).Count > 0; i++)
        {
            await Task.Delay(200);
        }
        if (left.Count > 0)
        {
            var all = await _docker.Docker("ps", "-aq");
            foreach (var c in all.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                await _docker.Docker("rm", "-f", c);
            }
            await Leftovers.ReapAsync(Path.Combine(_docker.Dir, "none"));
        }
        Assert.True(left.Count == 0, "left behind: " + string.Join("; ", left));
    }

    private static List<string> Remaining()
    {
        var left = Leftovers.ShimProcesses().Concat(Leftovers.RelayProcesses()).ToList();
        left.AddRange(Leftovers.Processes("qemu", cmdline => cmdline.Contains("qemu-system", StringComparison.Ordinal) && cmdline.Contains("moat-cli-", StringComparison.Ordinal)));
        return left;
    }

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
        // There but not executable: create works and start fails; Docker deletes the task right
        // after, which the runc shim allows only once the task's pid (moat's relay) has exited.
        r = await Run("/etc/passwd");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("exec \"/etc/passwd\": Permission denied", r.Stderr);
    }

    /// <summary>
    /// Issue 18: restart, stop -t, kill and start again, repeated, then rm -f of a running
    /// container, with and without a tty. Docker reuses the container's id for every new task, so
    /// each start needs the last task's VM and shim gone by the time its delete returned.
    /// </summary>
    [Fact]
    public async Task RestartStopKillAndRmForceRepeatedWithAndWithoutATty()
    {
        foreach (var tty in new[] { false, true })
        {
            var name = "moat-" + Guid.NewGuid().ToString("N")[..8];
            string[] flags = tty ? ["-t"] : [];
            var r = await _docker.Docker(["run", "-d", .. flags, "--name", name, "--runtime=moat", "--network", "none", "busybox",
                "sh", "-c", "trap 'exit 0' TERM; echo up; while true; do sleep 0.2; done"]);
            Assert.True(r.ExitCode == 0, r.ToString());
            try
            {
                var starts = 1;
                for (var i = 0; i < 2; i++)
                {
                    await Ok("restart", "-t", "5", name);
                    await WaitUp(name, ++starts);
                    await Ok("stop", "-t", "5", name);
                    Assert.Equal("0", await Inspect(name, "{{.State.ExitCode}}")); // its TERM trap ran
                    await Ok("start", name);
                    await WaitUp(name, ++starts);
                    await Ok("kill", name);
                    await WaitExited(name);
                    Assert.Equal("137", await Inspect(name, "{{.State.ExitCode}}"));
                    await Ok("start", name);
                    await WaitUp(name, ++starts);
                }
                await Ok("rm", "-f", name);
                Assert.NotEqual(0, (await _docker.Docker("inspect", name)).ExitCode);
            }
            finally
            {
                await _docker.Docker("rm", "-f", name);
            }
        }
    }

    private async Task Ok(params string[] args)
    {
        var r = await _docker.Docker(args);
        Assert.True(r.ExitCode == 0, $"docker {string.Join(' ', args)}: {r}");
    }

    private async Task<string> Inspect(string name, string format) => (await _docker.Docker("inspect", "-f", format, name)).Stdout.Trim();

    /// <summary>Running, and its log says "up" once per start so far.</summary>
    private async Task WaitUp(string name, int starts)
    {
        var ups = 0;
        for (var i = 0; i < 300; i++)
        {
            ups = (await _docker.Docker("logs", name)).Stdout.Split('\n').Count(l => l.TrimEnd('\r') == "up");
            if (ups >= starts && await Inspect(name, "{{.State.Running}}") == "true")
            {
                return;
            }
            await Task.Delay(200);
        }
        Assert.Fail($"{name}: {ups} starts logged, {starts} expected");
    }

    private async Task WaitExited(string name)
    {
        for (var i = 0; i < 300 && await Inspect(name, "{{.State.Status}}") != "exited"; i++)
        {
            await Task.Delay(100);
        }
    }

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
