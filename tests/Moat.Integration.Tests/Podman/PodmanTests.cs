namespace Moat.Integration.Tests.Podman;

/// <summary>
/// <c>podman run --runtime moat</c> (the name <c>moat install podman</c> added to containers.conf):
/// Podman drives the moat CLI through conmon, as it drives runc and crun.
/// </summary>
[Collection("vm")]
public sealed class PodmanTests : IClassFixture<PodmanFixture>, IAsyncLifetime
{
    private readonly PodmanFixture _podman;
    private readonly EngineCli _cli;

    public PodmanTests(PodmanFixture podman)
    {
        _podman = podman;
        _cli = new EngineCli("podman", args => podman.Podman(args));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>After each test: no moat shim, relay or QEMU is left, and no conmon.</summary>
    public Task DisposeAsync() => EngineCli.AssertNothingLeftAsync(Remaining,
        () => _podman.Podman("rm", "--all", "--force", "--time", "0"), _podman.Dir);

    private List<string> Remaining()
    {
        var left = EngineCli.CliSandboxProcesses();
        left.AddRange(Leftovers.Processes("conmon", cmdline => cmdline.StartsWith("/usr/bin/conmon", StringComparison.Ordinal) && cmdline.Contains(_podman.Dir, StringComparison.Ordinal)));
        return left;
    }

    private Task<CmdResult> Run(params string[] args) =>
        _podman.Podman(["run", "--rm", "--runtime", "moat", "--network", "none", "busybox", .. args]);

    [Fact]
    public async Task RunPrintsTheGuestKernelAndExitCodesComeBack()
    {
        var r = await Run("uname", "-r");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), r.Stdout.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+-\d+-amd64$", r.Stdout.Trim());
        Assert.Equal(42, (await Run("sh", "-c", "exit 42")).ExitCode);
    }

    /// <summary>containers.conf lists moat in runtime_supports_json: conmon runs it with --log-format json and Podman shows the reason.</summary>
    [Fact]
    public async Task MoatsOwnReasonReachesPodmansError()
    {
        var r = await Run("/nonexistent/program");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("/nonexistent/program", r.Stderr);
        Assert.Contains("No such file or directory", r.Stderr);
        Assert.DoesNotContain("{\"level\"", r.Stderr); // read as JSON, not shown raw
    }

    [Fact]
    public async Task DetachedContainerLogsExecsStopsAndIsRemoved()
    {
        var name = "moat-" + Guid.NewGuid().ToString("N")[..8];
        var r = await _podman.Podman("run", "-d", "--name", name, "--runtime", "moat", "--network", "none", "busybox",
            "sh", "-c", "echo hello-logs; trap 'echo got-term; exit 0' TERM; while true; do sleep 0.2; done");
        Assert.True(r.ExitCode == 0, r.ToString());
        try
        {
            await _cli.WaitUp(name, "hello-logs", 1);
            r = await _podman.Podman("exec", name, "sh", "-c", "echo in-exec; exit 3");
            Assert.Equal(3, r.ExitCode);
            Assert.Equal("in-exec\n", r.Stdout);
            Assert.Equal("moat", await _cli.Inspect(name, "{{.OCIRuntime}}"));
            await _cli.Ok("stop", "-t", "10", name);
            Assert.Contains("got-term", (await _podman.Podman("logs", name)).Stdout);
            Assert.Equal("0", await _cli.Inspect(name, "{{.State.ExitCode}}"));
            await _cli.Ok("rm", name);
            Assert.NotEqual(0, (await _podman.Podman("inspect", name)).ExitCode);
        }
        finally
        {
            await _podman.Podman("rm", "-f", "-t", "0", name);
        }
    }

    [Fact]
    public async Task StdinReachesTheContainerAndATtyGivesAPty()
    {
        var r = await _podman.PodmanWithInput("hello from stdin\n", "run", "--rm", "-i", "--runtime", "moat", "--network", "none", "busybox", "cat");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello from stdin\n", r.Stdout);
        // -it needs a terminal on podman's side too: script gives it one and types a line into the shell.
        var podman = string.Join(' ', [PodmanFixture.PodmanCli, .. _podman.GlobalArgs(), "run", "--rm", "-it", "--runtime", "moat", "--network", "none", "busybox", "sh"]);
        r = await Cmd.RunAsync("script", ["-qec", podman, "/dev/null"], "tty; echo \"cols $(stty size)\"; exit 7\n", _podman.Env, TimeSpan.FromMinutes(3));
        Assert.True(r.ExitCode == 7, r.ToString());
        Assert.Contains("/dev/pts/", r.Stdout);
    }

    /// <summary>
    /// The container sees its own cgroup, as runc gives it on a cgroup v2 host (the guest is one):
    /// a cgroup namespace rooted at it, with Podman's --memory and --cpus in its files.
    /// </summary>
    [Fact]
    public async Task MemoryAndCpusAreTheContainersOwnCgroupFiles()
    {
        var r = await _podman.Podman("run", "--rm", "--runtime", "moat", "--network", "none", "--memory", "256m", "--cpus", "1.5", "busybox",
            "sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; nproc");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("0::/", lines[0]);
        Assert.Equal("268435456", lines[1]);
        Assert.Equal("150000 100000", lines[2]);
        Assert.Equal(Math.Min(1 + 2, Environment.ProcessorCount).ToString(System.Globalization.CultureInfo.InvariantCulture), lines[3]);
        // An exec joins the same cgroup namespace.
        var name = "moat-" + Guid.NewGuid().ToString("N")[..8];
        await _cli.Ok("run", "-d", "--name", name, "--runtime", "moat", "--network", "none", "--memory", "128m", "busybox", "sleep", "600");
        try
        {
            r = await _podman.Podman("exec", name, "sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/memory.max");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("0::/\n134217728\n", r.Stdout);
        }
        finally
        {
            await _podman.Podman("rm", "-f", "-t", "0", name);
        }
    }

    /// <summary>Issue 18 through Podman (<see cref="EngineCli.RestartStopKillAndRmForceRepeated"/>).</summary>
    [Fact]
    public Task RestartStopKillAndRmForceRepeatedWithAndWithoutATty() => _cli.RestartStopKillAndRmForceRepeated("moat");
}
