using System.Text.Json.Nodes;

namespace Moat.Integration.Tests;

/// <summary>`moat run` booting real VMs: what the container sees and what comes back.</summary>
[Collection("vm")]
public sealed class RunTests
{
    [Fact]
    public async Task ListShowsARunningContainerAsRuncDoes()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sleep", "8"]);
        var id = MoatEnv.Id();
        using var run = Cmd.Start(Cmd.Moat, ["--root", env.Root, "run", "--bundle", bundle, id]);
        run.StandardInput.Close();
        CmdResult table = new(1, "", "");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!table.Stdout.Contains(id, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            table = await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, "list"]);
        }
        var lines = table.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$", lines[0]);
        Assert.Matches($@"^{id}\s+\d+\s+running\s+{System.Text.RegularExpressions.Regex.Escape(bundle)}\s+\d{{4}}-\d\d-\d\dT[\d:.]+Z\s+root$", lines[1]);
        Assert.Equal(id + "\n", (await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, "list", "-q"])).Stdout);
        var json = System.Text.Json.JsonDocument.Parse((await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, "list", "--format", "json"])).Stdout).RootElement[0];
        Assert.Equal(id, json.GetProperty("id").GetString());
        Assert.Equal("running", json.GetProperty("status").GetString());
        Assert.True(json.GetProperty("pid").GetInt32() > 0);

        await run.WaitForExitAsync();
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", (await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, "list", "-q"])).Stdout);
        var bad = await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, "list", "--format", "yaml"]);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("yaml", bad.Stderr);
    }

    [Fact]
    public async Task GuestKernelAndBootIdDifferFromTheHost()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "uname -r; cat /proc/sys/kernel/random/boot_id"]);
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), lines[0]);
        Assert.Matches(@"^\d+\.\d+\.\d+", lines[0]);
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim(), lines[1]);
    }

    [Theory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 1", 1)]
    [InlineData("exit 3", 3)]
    public async Task ExitStatusComesBack(string script, int expected)
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", script]);
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == expected, r.ToString());
    }

    [Fact]
    public async Task ProcessKilledBySignalExitsWith128PlusSignal()
    {
        // Without a "pid" namespace in the spec the process shares the guest's PID namespace
        // (as runc shares the host's), so it is not an init the kernel shields from SIGKILL.
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "echo $$ >&2; kill -9 $$"], cfg =>
        {
            var ns = cfg["linux"]!["namespaces"]!.AsArray();
            ns.Remove(ns.First(n => (string?)n!["type"] == "pid"));
        });
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 137, r.ToString());
        Assert.NotEqual("1", r.Stderr.Trim());
    }

    [Fact]
    public async Task InitOfItsOwnPidNamespaceIgnoresSigkillFromInsideAsWithRunc()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "kill -9 $$; echo survived"]);
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("survived\n", r.Stdout);
    }

    [Fact]
    public async Task StdinPipedToCatComesBackWithStdoutAndStderrApart()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "cat; echo to-stderr >&2"]);
        var input = string.Concat(Enumerable.Range(0, 2000).Select(i => $"line {i} of the input\n"));
        var r = await env.RunAsync(bundle, MoatEnv.Id(), stdin: input);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(input, r.Stdout);
        Assert.Equal("to-stderr\n", r.Stderr);
    }

    [Fact]
    public async Task EnvCwdUserGroupsAndHostnameAreHonoured()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "echo $GREETING; pwd; id -u; id -g; id -G; hostname; ulimit -n"], cfg =>
        {
            var p = cfg["process"]!.AsObject();
            p["env"]!.AsArray().Add("GREETING=hello-from-env");
            p["cwd"] = "/tmp";
            p["user"] = new JsonObject { ["uid"] = 65534, ["gid"] = 65534, ["additionalGids"] = new JsonArray(10, 20) };
            cfg["hostname"] = "moat-test-host";
            p["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = 321, ["hard"] = 654 });
        });
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["hello-from-env", "/tmp", "65534", "65534", "65534 10 20", "moat-test-host", "321"],
            r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task ReadonlyRootfsRefusesWrites()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "touch /probe && echo wrote"], cfg => cfg["root"]!["readonly"] = true);
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Read-only file system", r.Stderr);
        Assert.False(File.Exists(Path.Combine(bundle, "rootfs/probe")));
    }

    [Fact]
    public async Task WritableRootfsWritesReachTheHostBundle()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "echo from-guest > /probe"]);
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("from-guest\n", File.ReadAllText(Path.Combine(bundle, "rootfs/probe")));
    }

    [Fact]
    public async Task BindMountsOfFilesAndDirectoriesHonourReadOnly()
    {
        await using var env = new MoatEnv();
        var rw = Directory.CreateDirectory(Path.Combine(env.Dir, "rw")).FullName;
        var ro = Directory.CreateDirectory(Path.Combine(env.Dir, "ro")).FullName;
        File.WriteAllText(Path.Combine(ro, "data"), "read-only data\n");
        var hosts = Path.Combine(env.Dir, "hosts");
        File.WriteAllText(hosts, "127.0.0.1 localhost moat-hosts-file\n");
        var bundle = await env.BundleAsync("b",
            ["sh", "-c", "cat /etc/hosts; cat /ro/data; echo x > /ro/new || echo ro-refused; echo written > /rw/out; ls /rw"], cfg =>
        {
            var mounts = cfg["mounts"]!.AsArray();
            mounts.Add(new JsonObject { ["destination"] = "/etc/hosts", ["type"] = "bind", ["source"] = hosts, ["options"] = new JsonArray("rbind", "ro") });
            mounts.Add(new JsonObject { ["destination"] = "/ro", ["type"] = "bind", ["source"] = ro, ["options"] = new JsonArray("rbind", "ro") });
            mounts.Add(new JsonObject { ["destination"] = "/rw", ["type"] = "bind", ["source"] = rw, ["options"] = new JsonArray("rbind", "rw") });
        });
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["127.0.0.1 localhost moat-hosts-file", "read-only data", "ro-refused", "out"],
            r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("written\n", File.ReadAllText(Path.Combine(rw, "out")));
        Assert.False(File.Exists(Path.Combine(ro, "new")));
    }

    [Fact]
    public async Task ContainerHasItsOwnPidNamespaceAndCapabilityBoundingSet()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "echo $$; grep CapBnd /proc/self/status; grep NoNewPrivs /proc/self/status"]);
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("1", lines[0]);
        // CAP_AUDIT_WRITE(29) | CAP_KILL(5) | CAP_NET_BIND_SERVICE(10), as in the default spec
        Assert.Equal("CapBnd:\t0000000020000420", lines[1]);
        Assert.Equal("NoNewPrivs:\t1", lines[2]);
    }

    [Fact]
    public async Task SigtermSentToMoatRunReachesTheContainer()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "trap 'echo got-term; exit 143' TERM; echo ready; while true; do sleep 0.1; done"]);
        using var p = Cmd.Start(Cmd.Moat, ["--root", env.Root, "run", "--bundle", bundle, MoatEnv.Id()]);
        p.StandardInput.Close();
        Assert.Equal("ready", await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1)));
        System.Diagnostics.Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        var rest = await p.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(1));
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal("got-term\n", rest);
        Assert.Equal(143, p.ExitCode);
    }

    [Fact]
    public async Task TerminalGivesTheProcessAPty()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-a-tty"], cfg => cfg["process"]!["terminal"] = true);
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"^/dev/pts/\d+\r\nstdio-is-a-tty\r\n$", r.Stdout);
    }

    [Fact]
    public async Task ConfigFileSizesTheVm()
    {
        await using var env = new MoatEnv();
        var cfg = Path.Combine(env.Dir, "moat.toml");
        File.WriteAllText(cfg, "[hypervisor]\nmemory_mib = 300\nvcpus = 2\ntcg_cache_mib = 24\n");
        var bundle = await env.BundleAsync("b", ["sh", "-c", "awk '/MemTotal/ {print $2}' /proc/meminfo; nproc"]);
        var r = await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, "--config", cfg, "run", "--bundle", bundle, MoatEnv.Id()]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.InRange(long.Parse(lines[0], System.Globalization.CultureInfo.InvariantCulture), 200 * 1024, 300 * 1024);
        Assert.Equal("2", lines[1]);

        // max_vcpus caps what a CPU limit adds: two CPUs asked, one allowed.
        File.WriteAllText(cfg, "[hypervisor]\nvcpus = 1\nmax_vcpus = 1\n");
        bundle = await env.BundleAsync("c", ["nproc"], c => c["linux"]!["resources"] = new JsonObject { ["cpu"] = new JsonObject { ["quota"] = 200000, ["period"] = 100000 } });
        r = await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, "--config", cfg, "run", "--bundle", bundle, MoatEnv.Id()]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("1", r.Stdout.Trim());
    }

    [Fact]
    public async Task MemoryLimitIsEnforcedInTheContainersOwnCgroup()
    {
        await using var env = new MoatEnv();
        var id = MoatEnv.Id();
        var bundle = await env.BundleAsync("b",
            ["sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max; head -c 300m /dev/zero | tail > /dev/null; echo status=$?"],
            cfg =>
            {
                cfg["hostname"] = id;
                cfg["linux"]!["resources"] = new JsonObject { ["memory"] = new JsonObject { ["limit"] = 32L << 20 } };
            });
        var r = await env.RunAsync(bundle, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        // Its own cgroup namespace: the guest's containers/ID is its root.
        Assert.Equal(["0::/", (32L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), "status=137"],
            r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
