using System.Text.RegularExpressions;

namespace Moat.Integration.Tests;

/// <summary>VM templates: VMs of the configured shape restored from a saved VM instead of booted.</summary>
[Collection("vm")]
public sealed partial class TemplateTests
{
    private const string TemplateRoot = "/var/lib/moat/templates";

    [GeneratedRegex("template ([0-9a-f]{24})")]
    private static partial Regex TemplateKey();

    [Fact]
    public async Task ClonesOfOneTemplateTakeTheHostsClockAndHaveTheirOwnRandomness()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "date +%s; cat /proc/sys/kernel/random/uuid; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'"]);
        var runs = new List<string[]>();
        for (var i = 0; i < 2; i++)
        {
            var started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var r = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--debug");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("(VM restored from template ", r.Stderr);
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, lines.Length);
            // The second run's template was saved before that run started: a clone keeping the
            // template's clock would read a time before the run began.
            Assert.InRange(long.Parse(lines[0], System.Globalization.CultureInfo.InvariantCulture), started, now + 1);
            runs.Add(lines);
        }
        // The agent reseeds each clone's generator from the host (under TCG the kernel's own
        // early-boot reseeding would tell these apart too, a second or two after the restore).
        Assert.NotEqual(runs[0][1], runs[1][1]);
        Assert.NotEqual(runs[0][2], runs[1][2]);
        env.AssertNothingLeft();
    }

    /// <summary>Issue 18's concurrency target: a burst of one shape on a cold cache waits for one template rather than making twenty.</summary>
    [Fact]
    public async Task TwentyParallelRunsOnAColdTemplateCacheMakeOneTemplateAndAllSucceed()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["echo", "ok"]);
        var data = ColdDataDir(env, "data");

        // Twenty VMs on this machine's two cores under TCG: a clone may wait more than the default
        // 60 s for its agent's first answer (measured: 1 burst in 3 had one, with this change's
        // parent as well). What is tested is one template and every run succeeding, not that deadline.
        var slow = new Dictionary<string, string> { ["MOAT_AGENT_TIMEOUT"] = "180" };
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => env.RunAsync(bundle, MoatEnv.Id(), null, slow, "--data-dir", data)));

        Assert.All(results, r => Assert.True(r.ExitCode == 0 && r.Stdout == "ok\n", r.ToString()));
        Assert.Single(Directory.GetDirectories(Path.Combine(data, "templates")));
        env.AssertNothingLeft();
    }

    [Fact]
    public async Task ATemplateThatCannotBeRestoredIsDroppedTheRunBootsAndTheNextRunMakesItAgain()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["echo", "hello"]);
        var first = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--debug");
        Assert.True(first.ExitCode == 0, first.ToString());
        var key = TemplateKey().Match(first.Stderr).Groups[1].Value;
        var dir = Path.Combine(TemplateRoot, key);
        Assert.True(Directory.Exists(dir), first.Stderr);

        await File.WriteAllBytesAsync(Path.Combine(dir, "state"), "not a QEMU state"u8.ToArray());
        var broken = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--debug");
        Assert.True(broken.ExitCode == 0, broken.ToString());
        Assert.Equal("hello\n", broken.Stdout);
        Assert.Contains($"restoring VM template {key} failed", broken.Stderr);
        Assert.Contains("agent answered\n", broken.Stderr.ReplaceLineEndings("\n"));
        Assert.False(Directory.Exists(dir));

        var again = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--debug");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains($"VM template {key} saved", again.Stderr);
        Assert.Contains($"(VM restored from template {key})", again.Stderr);
        Assert.Equal("hello\n", again.Stdout);
        env.AssertNothingLeft();
    }

    [Fact]
    public async Task AClonesMemoryChurnLeavesTheTemplatesMemoryFileAsItWas()
    {
        await using var env = new MoatEnv();
        // A clone that fills and frees guest memory, drops its caches, and would balloon if it had
        // a balloon: the template's RAM file (mapped copy-on-write) must not change by one byte.
        var bundle = await env.BundleAsync("b", ["sh", "-c",
            "ls /sys/bus/virtio/drivers/virtio_balloon/ 2>/dev/null | grep -c virtio; " +
            "dd if=/dev/zero of=/dev/shm/fill bs=1M count=200 2>/dev/null; rm /dev/shm/fill; " +
            "echo 3 > /proc/sys/vm/drop_caches; echo 1 > /proc/sys/vm/compact_memory; echo churned"], cfg =>
        {
            cfg["linux"]!.AsObject().Remove("readonlyPaths");
            cfg["linux"]!.AsObject().Remove("maskedPaths");
            var admin = new System.Text.Json.Nodes.JsonArray("CAP_SYS_ADMIN");
            cfg["process"]!["capabilities"] = new System.Text.Json.Nodes.JsonObject
            {
                ["bounding"] = admin.DeepClone(),
                ["effective"] = admin.DeepClone(),
                ["permitted"] = admin.DeepClone(),
            };
        });
        var first = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--debug");
        Assert.True(first.ExitCode == 0, first.ToString());
        var key = TemplateKey().Match(first.Stderr).Groups[1].Value;
        var memory = Path.Combine(TemplateRoot, key, "memory");
        Assert.True(File.Exists(memory), first.Stderr);
        var before = Hash(memory);
        var clone = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--debug");
        Assert.True(clone.ExitCode == 0, clone.ToString());
        Assert.Contains($"(VM restored from template {key})", clone.Stderr);
        Assert.Equal("0\nchurned\n", clone.Stdout); // no balloon device, and the churn ran
        Assert.Equal(before, Hash(memory));
        env.AssertNothingLeft();
    }

    /// <summary>A data directory of its own: the installed guest image, copied, and no templates yet.</summary>
    [GeneratedRegex(@"(container|container with a network|pod) ([0-9a-f]{24})")]
    private static partial Regex MadeTemplate();

    /// <summary>
    /// <c>moat image templates</c> (which <c>moat image build</c> runs) makes the templates of the
    /// common shapes: the first run after it is restored from the one made for a container, and
    /// neither boots nor saves a template of its own. Run again, it makes nothing.
    /// </summary>
    [Fact]
    public async Task TheTemplatesMadeAheadServeTheFirstRunAndAreMadeOnce()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["echo", "ok"]);
        var data = ColdDataDir(env, "data");
        // A debug configuration shapes the VMs (their kernel command line) and prints the run's phases.
        var config = Path.Combine(env.Dir, "debug.toml");
        await File.WriteAllTextAsync(config, "[runtime]\ndebug = true\n");
        string[] global = ["--config", config, "--data-dir", data];

        var made = await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, .. global, "image", "templates"]);
        Assert.True(made.ExitCode == 0, made.ToString());
        var keys = MadeTemplate().Matches(made.Stdout).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.True(keys.Count == 3, made.ToString());
        var saved = Directory.GetDirectories(Path.Combine(data, "templates")).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(keys.Values.Distinct().Order(), saved);

        var run = await env.RunAsync(bundle, MoatEnv.Id(), null, null, global);
        Assert.True(run.ExitCode == 0 && run.Stdout == "ok\n", run.ToString());
        Assert.Contains($"(VM restored from template {keys["container"]})", run.Stderr);
        Assert.DoesNotContain("booting", run.Stderr);

        var again = await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, .. global, "--debug", "image", "templates"]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.DoesNotContain("saved", again.Stderr);
        Assert.Equal(saved, Directory.GetDirectories(Path.Combine(data, "templates")).Select(Path.GetFileName).Order().ToList());
        env.AssertNothingLeft();
    }

    private static string ColdDataDir(MoatEnv env, string name)
    {
        var image = Directory.ResolveLinkTarget("/var/lib/moat/guest/current", returnFinalTarget: true)!.FullName;
        var data = Path.Combine(env.Dir, name);
        var copy = Directory.CreateDirectory(Path.Combine(data, "guest", Path.GetFileName(image))).FullName;
        foreach (var f in Directory.GetFiles(image))
        {
            File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        }
        File.CreateSymbolicLink(Path.Combine(data, "guest", "current"), Path.GetFileName(image));
        return data;
    }

    /// <summary>
    /// Issue 18's fault cases for templates: QEMU SIGKILLed while a template is made, and a clone's
    /// QEMU SIGKILLed while it is restored. The run it hit fails with one line (or boots on its
    /// own), no half-made template is left or used, and the next run works.
    /// </summary>
    [Fact]
    public async Task AVmKilledWhileItsTemplateIsMadeOrRestoredFailsOneRunClearlyAndTheNextRunWorks()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["echo", "ok"]);

        var data = ColdDataDir(env, "making");
        var templates = Path.Combine(data, "templates");
        var hit = env.RunAsync(bundle, MoatEnv.Id(), null, null, "--data-dir", data);
        await KillFirstQemuAsync(c => c.Contains("moat-template-", StringComparison.Ordinal) && c.Contains(data, StringComparison.Ordinal), hit);
        AssertOkOrOneLine(await hit);
        Assert.Empty(Directory.GetDirectories(templates)); // neither a template nor the .new it was made in
        var next = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--data-dir", data);
        Assert.True(next.ExitCode == 0 && next.Stdout == "ok\n", next.ToString());

        data = ColdDataDir(env, "restoring");
        var made = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--debug", "--data-dir", data);
        Assert.True(made.ExitCode == 0, made.ToString());
        var key = TemplateKey().Match(made.Stderr).Groups[1].Value;
        hit = env.RunAsync(bundle, MoatEnv.Id(), null, null, "--debug", "--data-dir", data);
        await KillFirstQemuAsync(c => c.Contains(env.Root, StringComparison.Ordinal) && c.Contains(data, StringComparison.Ordinal), hit);
        AssertOkOrOneLine(await hit, debug: true);
        next = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--debug", "--data-dir", data);
        Assert.True(next.ExitCode == 0 && next.Stdout == "ok\n", next.ToString());
        Assert.Contains($"(VM restored from template {key})", next.Stderr); // killed from outside: the template itself is sound
        foreach (var log in Directory.GetFiles("/var/log/moat", "it-*-console.log"))
        {
            File.Delete(log);
        }
        env.AssertNothingLeft();
    }

    private static void AssertOkOrOneLine(CmdResult r, bool debug = false)
    {
        if (r.ExitCode == 0)
        {
            Assert.Equal("ok\n", r.Stdout);
            return;
        }
        var errors = r.Stderr.Trim().Split('\n').Where(l => !debug || !l.Contains(" ms ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1 && errors[0].Contains("QEMU", StringComparison.Ordinal), r.ToString());
    }

    /// <summary>SIGKILLs the first QEMU whose command line matches, as soon as it runs (while <paramref name="run"/> has not ended).</summary>
    private static async Task KillFirstQemuAsync(Func<string, bool> match, Task run)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!run.IsCompleted && DateTime.UtcNow < deadline)
        {
            var qemu = Leftovers.Processes("qemu", c => c.Contains("qemu-system", StringComparison.Ordinal) && match(c)).FirstOrDefault();
            if (qemu is not null)
            {
                try
                {
                    System.Diagnostics.Process.GetProcessById(int.Parse(qemu.Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture)).Kill();
                    return;
                }
                catch (ArgumentException)
                {
                    // gone between the look and the kill
                }
            }
            await Task.Delay(20);
        }
        Assert.Fail("no matching QEMU ran");
    }

    private static string Hash(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(f));
    }

    /// <summary>
    /// A first container's memory limit (<c>docker run -m</c>, <c>podman run -m</c>) does not make
    /// its VM boot: the clone of the shape's template is grown to it by hotplug before the
    /// container is created, and the container sees the memory.
    /// </summary>
    [Fact]
    public async Task AFirstContainersMemoryLimitIsServedByATemplateCloneGrownToIt()
    {
        await using var env = new MoatEnv();
        var r = await RunWithAMemoryLimitAsync(env, "--debug");
        Assert.Contains("(VM restored from template ", r.Stderr);
        Assert.Contains("VM memory grown by 256 MiB to 768 MiB", r.Stderr);
        env.AssertNothingLeft();
    }

    /// <summary>
    /// A foreground run of a container with a 256 MiB memory limit that prints the guest's MemTotal;
    /// checks it ran and saw the memory: 768 MiB less what the guest kernel keeps (the shape's 512
    /// alone would show under 512).
    /// </summary>
    private static async Task<CmdResult> RunWithAMemoryLimitAsync(MoatEnv env, params string[] globalArgs)
    {
        // The guest onlines hotplugged memory on its own (memhp_default_state=online): give it a moment.
        var bundle = await env.BundleAsync("b", ["sh", "-c", "for i in $(seq 50); do m=$(awk '/MemTotal/ { print $2 }' /proc/meminfo); [ $m -gt 614400 ] && break; sleep 0.1; done; echo $m"], cfg =>
            cfg["linux"]!["resources"] = new System.Text.Json.Nodes.JsonObject { ["memory"] = new System.Text.Json.Nodes.JsonObject { ["limit"] = 256L << 20 } });
        var r = await env.RunAsync(bundle, MoatEnv.Id(), null, null, globalArgs);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.InRange(long.Parse(r.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture), 600 * 1024, 768 * 1024);
        return r;
    }

    /// <summary>
    /// Where no template can be made (here its directory cannot be created), a container with a
    /// memory limit boots a VM of its full size rather than one of the shape's size grown by hotplug.
    /// </summary>
    [Fact]
    public async Task WithoutATemplateAMemoryLimitedContainerBootsAtItsFullSize()
    {
        await using var env = new MoatEnv();
        var data = ColdDataDir(env, "data");
        File.WriteAllText(Path.Combine(data, "templates"), "not a directory\n");
        var r = await RunWithAMemoryLimitAsync(env, "--debug", "--data-dir", data);
        Assert.Contains("no VM template", r.Stderr);
        Assert.DoesNotContain("VM memory grown", r.Stderr);
        env.AssertNothingLeft();
    }

    [Fact]
    public async Task TemplatesOffBootsEveryVm()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var r = await env.RunAsync(bundle, MoatEnv.Id(), null, new Dictionary<string, string> { ["MOAT_TEMPLATE"] = "0" }, "--debug");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("template", r.Stderr);
        Assert.Contains("agent answered", r.Stderr);

        var cfg = Path.Combine(env.Dir, "moat.toml");
        File.WriteAllText(cfg, "[hypervisor]\ntemplate = false\n");
        r = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--debug", "--config", cfg);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("template", r.Stderr);

        File.WriteAllText(cfg, "[hypervisor]\ntemplate = \"yes\"\n");
        r = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--config", cfg);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("hypervisor.template: must be true or false", r.Stderr);
        env.AssertNothingLeft();
    }
}
