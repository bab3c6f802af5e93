using System.Text.Json.Nodes;

namespace Moat.Integration.Tests;

/// <summary>Guests that hang, crash or panic, and a `moat run` that is killed: clear errors and no leftovers.</summary>
[Collection("vm")]
public sealed class GuestFailureTests
{
    /// <summary>An initrd whose /init is a busybox shell script.</summary>
    private static async Task<string> InitrdAsync(MoatEnv env, string name, string script)
    {
        var dir = Path.Combine(env.Dir, name);
        Directory.CreateDirectory(Path.Combine(dir, "bin"));
        Directory.CreateDirectory(Path.Combine(dir, "dev"));
        File.Copy("/bin/busybox", Path.Combine(dir, "bin/busybox"));
        File.WriteAllText(Path.Combine(dir, "init"), "#!/bin/busybox sh\n" + script + "\n");
        File.SetUnixFileMode(Path.Combine(dir, "init"), (UnixFileMode)0x1ed);
        var img = Path.Combine(env.Dir, name + ".img");
        var r = await Cmd.RunAsync("sh", ["-c", $"cd '{dir}' && find . | cpio -o -H newc --quiet | gzip -1 > '{img}'"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return img;
    }

    private static async Task<Dictionary<string, string>> ImageEnvAsync(string initrd)
    {
        var image = await Cmd.RunAsync("readlink", ["-f", "/var/lib/moat/guest/current"]);
        return new() { ["MOAT_KERNEL"] = Path.Combine(image.Stdout.Trim(), "vmlinux"), ["MOAT_INITRD"] = initrd };
    }

    [Fact]
    public async Task AgentThatNeverAnswersTimesOutAndNamesTheConsoleLog()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var initrd = await InitrdAsync(env, "hang", "/bin/busybox echo guest-is-up-but-no-agent; exec /bin/busybox sleep 1000");
        var vars = await ImageEnvAsync(initrd);
        vars["MOAT_AGENT_TIMEOUT"] = "8";
        var id = MoatEnv.Id();
        var r = await env.RunAsync(bundle, id, env: vars);
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains("did not answer within 8 s", r.Stderr);
        var log = System.Text.RegularExpressions.Regex.Match(r.Stderr, @"console log: (\S+)").Groups[1].Value;
        Assert.True(File.Exists(log), r.ToString());
        Assert.Contains("guest-is-up-but-no-agent", File.ReadAllText(log));
        File.Delete(log);
    }

    [Fact]
    public async Task GuestKernelPanicAtBootIsReported()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var initrd = await InitrdAsync(env, "panic", "exit 0"); // init exits: the kernel panics
        var r = await env.RunAsync(bundle, MoatEnv.Id(), env: await ImageEnvAsync(initrd));
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains("crashed or panicked", r.Stderr);
        var log = System.Text.RegularExpressions.Regex.Match(r.Stderr, @"console log: (\S+)").Groups[1].Value;
        Assert.Contains("Kernel panic", File.ReadAllText(log));
        File.Delete(log);
    }

    [Fact]
    public async Task GuestCrashMidRunIsReported()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "echo running; sleep 1; echo c > /proc/sysrq-trigger; sleep 100"], cfg =>
        {
            cfg["linux"]!.AsObject().Remove("readonlyPaths");
            cfg["linux"]!.AsObject().Remove("maskedPaths");
        });
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Equal("running\n", r.Stdout);
        Assert.True(r.ExitCode == 137, r.ToString()); // the answer of every front door when the VM dies
        Assert.Contains("the VM stopped while the container was running (the guest kernel panicked", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        foreach (var f in Directory.GetFiles("/var/log/moat", "it-*-console.log"))
        {
            File.Delete(f);
        }
    }

    /// <summary>QEMU SIGKILLed under a running container: the same status through every front door (issue 15).</summary>
    [Fact]
    public async Task QemuKilledUnderARunningContainerGives137ThroughForegroundAndPidFileRuns()
    {
        // Foreground moat run: the VM lives in the moat process.
        await using (var env = new MoatEnv())
        {
            var bundle = await env.BundleAsync("b", ["sh", "-c", "echo running; sleep 600"]);
            using var p = Cmd.Start(Cmd.Moat, ["--root", env.Root, "run", "--bundle", bundle, MoatEnv.Id()]);
            p.StandardInput.Close();
            Assert.Equal("running", await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1)));
            Leftovers.KillQemuNaming(env.Root);
            var stderr = await p.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(1));
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
            Assert.True(p.ExitCode == 137, stderr);
            Assert.Contains("the VM stopped while the container was running (QEMU exited", stderr);
            foreach (var log in System.Text.RegularExpressions.Regex.Matches(stderr, @"console log: (\S+)").Select(m => m.Groups[1].Value))
            {
                File.Delete(log);
            }
        }
        // moat run --pid-file: the shim daemon holds the VM, the relay stands for the process.
        await using (var env = new Cli.CliEnv())
        {
            var bundle = await env.BundleAsync("b", ["sh", "-c", "touch /up; sleep 600"]);
            var id = MoatEnv.Id();
            var run = Cmd.RunAsync("sh", ["-c", $"{Cmd.Moat} --root {env.Root} run --pid-file {env.Dir}/pid --bundle {bundle} {id} </dev/null >/dev/null 2>{env.Dir}/err"]);
            for (var i = 0; i < 600 && !File.Exists(Path.Combine(bundle, "rootfs", "up")); i++)
            {
                await Task.Delay(100);
            }
            Leftovers.KillQemuNaming(id); // its state directory is named after the id
            var r = await run.WaitAsync(TimeSpan.FromMinutes(1));
            Assert.True(r.ExitCode == 137, File.ReadAllText(Path.Combine(env.Dir, "err")));
        }
    }

    [Fact]
    public async Task KilledMoatRunLeavesNoQemuMountOrSocket()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sleep", "600"]);
        var id = MoatEnv.Id();
        using var p = Cmd.Start(Cmd.Moat, ["--root", env.Root, "--debug", "run", "--bundle", bundle, id]);
        p.StandardInput.Close();
        var started = false;
        while (await p.StandardError.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1)) is { } line)
        {
            if (line.Contains("container started", StringComparison.Ordinal))
            {
                started = true;
                break;
            }
        }
        Assert.True(started, "the container never started");
        Assert.Contains(env.Remaining(), l => l.StartsWith("qemu", StringComparison.Ordinal));
        p.Kill(); // SIGKILL: no chance to clean up
        await p.WaitForExitAsync();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (env.Remaining().Any(l => !l.StartsWith("state", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        Assert.DoesNotContain(env.Remaining(), l => !l.StartsWith("state", StringComparison.Ordinal));

        // The dead run's state directory is swept by the next moat command on that root.
        var again = await env.RunAsync(await env.BundleAsync("c", ["true"]), MoatEnv.Id());
        Assert.True(again.ExitCode == 0, again.ToString());
        env.AssertNothingLeft();
    }
}
