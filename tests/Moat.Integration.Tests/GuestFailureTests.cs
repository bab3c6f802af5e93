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
        Assert.Contains("crashed or panicked", r.Stderr);
        foreach (var f in Directory.GetFiles("/var/log/moat", "it-*-console.log"))
        {
            File.Delete(f);
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
