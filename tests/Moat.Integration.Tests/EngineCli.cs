namespace Moat.Integration.Tests;

/// <summary>
/// What the Docker and Podman tests share: both CLIs take the same verbs and inspect templates,
/// and both drive moat through the runc-compatible CLI, so the same processes may be left behind.
/// </summary>
internal sealed class EngineCli(string name, Func<string[], Task<CmdResult>> run)
{
    /// <summary>moat's processes of containers made through its CLI: shim daemons, relays and their QEMUs.</summary>
    public static List<string> CliSandboxProcesses()
    {
        var left = Leftovers.ShimProcesses().Concat(Leftovers.RelayProcesses()).ToList();
        left.AddRange(Leftovers.Processes("qemu", cmdline => cmdline.Contains("qemu-system", StringComparison.Ordinal) && cmdline.Contains("moat-cli-", StringComparison.Ordinal)));
        return left;
    }

    /// <summary>
    /// After a test: waits up to 20 s for <paramref name="remaining"/> to be empty; if it is not,
    /// removes every container (<paramref name="removeAll"/>) and reaps what is left, then fails naming it.
    /// </summary>
    public static async Task AssertNothingLeftAsync(Func<List<string>> remaining, Func<Task> removeAll, string dir)
    {
        List<string> left = [];
        for (var i = 0; i < 100 && (left = remaining()).Count > 0; i++)
        {
            await Task.Delay(200);
        }
        if (left.Count > 0)
        {
            await removeAll();
            await Leftovers.ReapAsync(Path.Combine(dir, "none"));
        }
        Assert.True(left.Count == 0, "left behind: " + string.Join("; ", left));
    }

    public async Task Ok(params string[] args)
    {
        var r = await run(args);
        Assert.True(r.ExitCode == 0, $"{name} {string.Join(' ', args)}: {r}");
    }

    public async Task<string> Inspect(string container, string format) => (await run(["inspect", "-f", format, container])).Stdout.Trim();

    /// <summary>Running, and its log has <paramref name="line"/> once per start so far.</summary>
    public async Task WaitUp(string container, string line, int starts)
    {
        var seen = 0;
        for (var i = 0; i < 300; i++)
        {
            seen = (await run(["logs", container])).Stdout.Split('\n').Count(l => l.TrimEnd('\r') == line);
            if (seen >= starts && await Inspect(container, "{{.State.Running}}") == "true")
            {
                return;
            }
            await Task.Delay(200);
        }
        Assert.Fail($"{container}: {seen} starts logged, {starts} expected");
    }

    public async Task WaitExited(string container)
    {
        for (var i = 0; i < 300 && await Inspect(container, "{{.State.Status}}") != "exited"; i++)
        {
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Issue 18: restart, stop -t, kill and start again, repeated, then rm -f of a running
    /// container, with and without a tty. Both engines reuse the container's id for every start,
    /// so each one needs the last VM and shim gone when moat's delete returned.
    /// </summary>
    public async Task RestartStopKillAndRmForceRepeated(string runtime)
    {
        foreach (var tty in new[] { false, true })
        {
            var container = "moat-" + Guid.NewGuid().ToString("N")[..8];
            string[] flags = tty ? ["-t"] : [];
            await Ok(["run", "-d", .. flags, "--name", container, "--runtime", runtime, "--network", "none", "busybox",
                "sh", "-c", "trap 'exit 0' TERM; echo up; while true; do sleep 0.2; done"]);
            try
            {
                var starts = 1;
                await WaitUp(container, "up", starts);
                for (var i = 0; i < 2; i++)
                {
                    await Ok("restart", "-t", "10", container);
                    await WaitUp(container, "up", ++starts);
                    await Ok("stop", "-t", "10", container);
                    Assert.Equal("0", await Inspect(container, "{{.State.ExitCode}}")); // its TERM trap ran
                    await Ok("start", container);
                    await WaitUp(container, "up", ++starts);
                    await Ok("kill", container);
                    await WaitExited(container);
                    Assert.Equal("137", await Inspect(container, "{{.State.ExitCode}}"));
                    await Ok("start", container);
                    await WaitUp(container, "up", ++starts);
                }
                await Ok("rm", "-f", container);
                Assert.NotEqual(0, (await run(["inspect", container])).ExitCode);
            }
            finally
            {
                await run(["rm", "-f", container]);
            }
        }
    }
}
