namespace Moat.Integration.Tests.Cli;

/// <summary>
/// Files the CLI writes where others can write (issue 14, item 9): planted links are never
/// followed, ids are claimed atomically, nothing of another container is removed, and a create
/// that fails after its VM started leaves nothing running.
/// </summary>
[Collection("vm")]
public sealed class CliFileHygieneTests
{
    private static string Id() => "hy-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task PidFileNeverWritesThroughAPlantedLink()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var shared = Directory.CreateDirectory(Path.Combine(env.Dir, "shared")).FullName;
        var victim = Path.Combine(env.Dir, "victim");
        File.WriteAllText(victim, "precious");
        var pidFile = Path.Combine(shared, "c.pid");
        // What a hostile user plants: the old fixed temp name and the target itself as links to the victim.
        File.CreateSymbolicLink(Path.Combine(shared, ".c.pid.tmp"), victim);
        File.CreateSymbolicLink(pidFile, victim);
        var id = Id();

        var r = await env.MoatAsync("create", "--bundle", bundle, "--pid-file", pidFile, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.Null(new FileInfo(pidFile).LinkTarget); // the link was replaced by the pid file, not written through
        Assert.Equal((int)(await env.StateAsync(id))["pid"]!, int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, (await env.MoatAsync("delete", "--force", id)).ExitCode);
    }

    [Fact]
    public async Task ACreateThatFailsAfterItsVmStartedLeavesNothingRunning()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var id = Id();
        // The pid file is written last, after the relay, the shim daemon and the VM are up.
        var r = await env.MoatAsync("create", "--bundle", bundle, "--pid-file", Path.Combine(env.Dir, "no-such-dir", "c.pid"), id);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--pid-file", r.Stderr);
        Assert.Contains("does not exist", (await env.MoatAsync("state", id)).Stderr);
        // CliEnv's dispose checks that no relay, shim, VM or state is left.
    }

    [Fact]
    public async Task AForegroundRunNeverTakesOverAnotherContainersId()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "sleep 600"]);
        var id = Id();
        Assert.Equal(0, (await env.MoatAsync("create", "--bundle", bundle, id)).ExitCode);
        try
        {
            var other = await env.BundleAsync("o", ["echo", "must-not-run"]);
            var r = await env.MoatAsync("run", "--bundle", other, id);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains("already exists", r.Stderr);
            Assert.DoesNotContain("must-not-run", r.Stdout);
            Assert.Equal("created", (string?)(await env.StateAsync(id))["status"]);
        }
        finally
        {
            Assert.Equal(0, (await env.MoatAsync("delete", "--force", id)).ExitCode);
        }
        // The id is free again the moment delete returned, for the foreground run too.
        var again = await env.BundleAsync("a", ["echo", "second-life"]);
        var second = await env.MoatAsync("run", "--bundle", again, id);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal("second-life\n", second.Stdout);
        Assert.False(Directory.Exists(Path.Combine(env.Root, id)), "a foreground run removes its own claim");
    }

    [Fact]
    public async Task DeleteRemovesWhatAForegroundRunKilledWithSigkillLeft()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "touch /up; sleep 600"]);
        var id = Id();
        var run = env.MoatAsync("run", "--bundle", bundle, id);
        await OciLifecycleTests.WaitForMarkAsync(bundle, "up", "the container never started");
        var claim = File.ReadAllText(Path.Combine(env.Root, id, global::Moat.Runtime.StateDir.ReservationFile));
        Assert.Equal(0, (await Cmd.RunAsync("kill", ["-KILL", claim.Split(' ')[0]])).ExitCode);
        Assert.Equal(128 + 9, (await run.WaitAsync(TimeSpan.FromSeconds(60))).ExitCode);
        // Its VM went with it; its state stays until a verb meets it, and delete is that verb.
        var sockets = new global::Moat.Runtime.StateDir(env.Root, id, "/run/moat-node").SocketDir;
        Assert.True(Directory.Exists(Path.Combine(env.Root, id)));
        Assert.True(Directory.Exists(sockets), sockets);
        var r = await env.MoatAsync("delete", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.False(Directory.Exists(Path.Combine(env.Root, id)));
        Assert.False(Directory.Exists(sockets), sockets);
        var again = await env.MoatAsync("delete", id);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("does not exist", again.Stderr);
        // CliEnv's dispose checks that no VM, socket directory or state is left.
    }

    [Fact]
    public async Task IdsAreReusableTheMomentRunReturns()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var id = Id();
        var pidFile = Path.Combine(env.Dir, "pid");
        for (var i = 0; i < 3; i++)
        {
            // --pid-file sends run through the shim daemon (create + start + wait + delete), as runc callers do.
            var r = await env.MoatAsync("run", "--pid-file", pidFile, "--bundle", bundle, id);
            Assert.True(r.ExitCode == 0, $"run {i}: {r}");
            Assert.Empty(env.Remaining());
        }
    }
}
