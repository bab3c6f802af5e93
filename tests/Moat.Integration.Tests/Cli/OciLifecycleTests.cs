using System.Text.Json.Nodes;

namespace Moat.Integration.Tests.Cli;

/// <summary>The OCI runtime lifecycle (runtime.md) through moat's runc-compatible verbs.</summary>
[Collection("vm")]
public sealed class OciLifecycleTests
{
    private static string Id() => "cli-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task OtherVerbsNameTheProcessThatRunsAForegroundContainer()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "trap 'exit 7' TERM; touch /trap-set; while true; do sleep 0.1; done"]);
        var id = Id();
        var run = env.MoatAsync("run", "--bundle", bundle, id);
        await WaitForMarkAsync(bundle, "trap-set", "the container never set its TERM trap");
        var pid = File.ReadAllText(Path.Combine(env.Root, id, global::Moat.Runtime.StateDir.ReservationFile)).Split(' ')[0];
        try
        {
            // The foreground run keeps its VM to itself: state and kill say which process runs it,
            // still in the words runc's callers match on, and a signal to that process reaches the container.
            var state = await env.MoatAsync("state", id);
            Assert.False(run.IsCompleted, "the foreground run ended early");
            Assert.NotEqual(0, state.ExitCode);
            Assert.Contains($"container {id} does not exist", state.Stderr);
            Assert.Contains($"process {pid} runs it in the foreground", state.Stderr);
            var kill = await env.MoatAsync("kill", id, "TERM");
            Assert.NotEqual(0, kill.ExitCode);
            Assert.Contains($"process {pid} runs it in the foreground", kill.Stderr);
            Assert.Equal(0, (await Cmd.RunAsync("kill", ["-TERM", pid])).ExitCode);
            var r = await run.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(r.ExitCode == 7, r.ToString());
        }
        finally
        {
            if (!run.IsCompleted)
            {
                await Cmd.RunAsync("kill", ["-KILL", pid]);
                await run;
                await env.MoatAsync("delete", id);
            }
        }
    }

    [Fact]
    public async Task CreateStartKillDeleteFollowsTheSpecsStates()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "trap 'exit 3' TERM; touch /trap-set; while true; do sleep 0.1; done"]);
        var id = Id();
        var pidFile = Path.Combine(env.Dir, "pid");

        var r = await env.MoatAsync("create", "--bundle", bundle, "--pid-file", pidFile, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        var state = await env.StateAsync(id);
        Assert.Equal("created", (string?)state["status"]);
        var pid = (int)state["pid"]!;
        Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(pidFile));
        Assert.True(Directory.Exists($"/proc/{pid}"), "the pid in state must be a live host process");
        foreach (var field in new[] { "ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner", "annotations" })
        {
            Assert.True(state.ContainsKey(field), $"state lacks {field}: {state}");
        }
        Assert.Equal(bundle, (string?)state["bundle"]);

        Assert.Equal(0, (await env.MoatAsync("start", id)).ExitCode);
        Assert.Equal("running", (string?)(await env.StateAsync(id))["status"]);
        r = await env.MoatAsync("start", id);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("already running", r.Stderr);

        r = await env.MoatAsync("delete", id);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("not stopped", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));

        // The shell is the container's pid 1: a TERM before its trap is set would be ignored.
        await WaitForMarkAsync(bundle, "trap-set", "the container never set its TERM trap");
        Assert.Equal(0, (await env.MoatAsync("kill", id, "TERM")).ExitCode);
        await WaitForAsync(env, id, "stopped");
        Assert.Equal(0, (int)(await env.StateAsync(id))["pid"]!);
        r = await env.MoatAsync("kill", id, "KILL");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("container not running", r.Stderr);

        Assert.Equal(0, (await env.MoatAsync("delete", id)).ExitCode);
        r = await env.MoatAsync("state", id);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("does not exist", r.Stderr);
    }

    [Fact]
    public async Task StartRunsTheProgramCreateFoundOnPath()
    {
        // As runc's init: PATH is searched once, at create, and start execs what it found there; a
        // program put earlier on PATH between the two is not the one that runs.
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["prog"], cfg => cfg["process"]!["env"] = new JsonArray("PATH=/first:/second"));
        var rootfs = Path.Combine(bundle, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "first"));
        WriteScript(Path.Combine(rootfs, "second", "prog"), "#!/bin/sh\ntouch /ran-second\n");
        var id = Id();
        var r = await env.MoatAsync("create", "--bundle", bundle, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        WriteScript(Path.Combine(rootfs, "first", "prog"), "#!/bin/sh\ntouch /ran-first\n");
        Assert.Equal(0, (await env.MoatAsync("start", id)).ExitCode);
        await WaitForAsync(env, id, "stopped");
        Assert.True(File.Exists(Path.Combine(rootfs, "ran-second")), "the program found at create did not run");
        Assert.False(File.Exists(Path.Combine(rootfs, "ran-first")), "start searched PATH again");
        Assert.Equal(0, (await env.MoatAsync("delete", id)).ExitCode);
    }

    private static void WriteScript(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, (UnixFileMode)0x1ed); // rwxr-xr-x
    }

    [Fact]
    public async Task ACpuLimitOnARunningContainerNeverTakesItsVmDown()
    {
        // Under TCG, QEMU 7.2 aborts when a vCPU is plugged into a VM that has run a while: the
        // VM keeps its vCPUs (the limit applies in the guest's cgroup); under KVM it grows.
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "while true; do sleep 0.1; done"]);
        var id = Id();
        Assert.Equal(0, (await env.MoatAsync("run", "--detach", "--bundle", bundle, id)).ExitCode);
        for (var i = 0; i < 3; i++)
        {
            var r = await env.MoatAsync("update", "--cpu-quota", "200000", "--cpu-period", "100000", id);
            Assert.True(r.ExitCode == 0, r.ToString());
            r = await env.MoatAsync("exec", id, "cat", "/sys/fs/cgroup/cpu.max"); // an exec joins the container's cgroup namespace
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("200000 100000", r.Stdout.Trim());
        }
        Assert.Equal("running", (string?)(await env.StateAsync(id))["status"]);
        Assert.Equal(0, (await env.MoatAsync("delete", "--force", id)).ExitCode);
    }

    [Fact]
    public async Task PidFileProcessExitsWithTheContainersStatusAndRelaysItsOutput()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7"]);
        var id = Id();
        var output = Path.Combine(env.Dir, "output");
        Assert.Equal(7, await SubreaperHarness.RunAsync(env, bundle, id, output));
        var text = File.ReadAllText(output);
        Assert.Contains("to-stdout", text);
        Assert.Contains("to-stderr", text);
        Assert.Equal("stopped", (string?)(await env.StateAsync(id))["status"]);
        Assert.Equal(0, (await env.MoatAsync("delete", id)).ExitCode);
    }

    [Fact]
    public async Task ExecPsPauseResumeUpdateAndEventsOnARunningContainer()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "while true; do sleep 0.1; done"]);
        var id = Id();
        Assert.Equal(0, (await env.MoatAsync("run", "--detach", "--bundle", bundle, id)).ExitCode);
        Assert.Equal("running", (string?)(await env.StateAsync(id))["status"]);

        var r = await env.MoatAsync("exec", id, "sh", "-c", "echo exec-out; exit 5");
        Assert.Equal(5, r.ExitCode);
        Assert.Equal("exec-out\n", r.Stdout);
        var proc = Path.Combine(env.Dir, "process.json");
        File.WriteAllText(proc, """{"args":["cat","/proc/self/status"],"cwd":"/","user":{"uid":0,"gid":0}}""");
        r = await env.MoatAsync("exec", "--process", proc, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Name:", r.Stdout);

        r = await env.MoatAsync("ps", "--format", "json", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        Assert.Contains((int)(await env.StateAsync(id))["pid"]!, JsonNode.Parse(r.Stdout)!.AsArray().Select(n => (int)n!));

        Assert.Equal(0, (await env.MoatAsync("pause", id)).ExitCode);
        Assert.Equal("paused", (string?)(await env.StateAsync(id))["status"]);
        r = await env.MoatAsync("exec", id, "true");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Equal(0, (await env.MoatAsync("resume", id)).ExitCode);
        Assert.Equal("running", (string?)(await env.StateAsync(id))["status"]);

        Assert.Equal(0, (await env.MoatAsync("update", "--memory", "96m", "--pids-limit", "50", id)).ExitCode);
        r = await env.MoatAsync("events", "--stats", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        var ev = JsonNode.Parse(r.Stdout)!;
        Assert.Equal("stats", (string?)ev["type"]);
        Assert.Equal(96L << 20, (long)ev["data"]!["memory"]!["usage"]!["limit"]!);
        Assert.Equal(50, (int)ev["data"]!["pids"]!["limit"]!);

        r = await env.MoatAsync("list", "--format", "json");
        Assert.Contains(id, r.Stdout);
        Assert.Equal(0, (await env.MoatAsync("delete", "--force", id)).ExitCode);
    }

    [Fact]
    public async Task ConsoleSocketReceivesARealPtyThatFollowsResizes()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["-t", "sh", "-c", "sleep 1; tty; stty size; echo DONE; sleep 1"]);
        var id = Id();
        var socket = Path.Combine(env.Dir, "console.sock");
        var script = Path.Combine(env.Dir, "console.py");
        File.WriteAllText(script, """
            import array, fcntl, os, socket, struct, sys, termios, time
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)
            c, _ = s.accept()
            msg, anc, _, _ = c.recvmsg(1024, socket.CMSG_LEN(4))
            m = array.array("i", anc[0][2][:4])[0]
            fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
            out = b""
            end = time.time() + 90
            while b"DONE" not in out and time.time() < end:
                try:
                    d = os.read(m, 4096)
                except OSError:
                    break
                if not d: break
                out += d
            print(msg.decode(), repr(out))
            """);
        using var receiver = Cmd.Start("python3", [script, socket]);
        for (var i = 0; i < 50 && !File.Exists(socket); i++)
        {
            await Task.Delay(100);
        }
        var r = await env.MoatAsync("create", "--bundle", bundle, "--console-socket", socket, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(0, (await env.MoatAsync("start", id)).ExitCode);
        var received = await receiver.StandardOutput.ReadToEndAsync();
        Assert.Contains("/dev/pts/", received);
        Assert.Contains("33 111", received);
        await WaitForAsync(env, id, "stopped");
        Assert.Equal(0, (await env.MoatAsync("delete", id)).ExitCode);
    }

    [Fact]
    public async Task CheckpointAndRestoreSayTheyAreNotSupported()
    {
        await using var env = new CliEnv();
        foreach (var verb in new[] { "checkpoint", "restore" })
        {
            var r = await env.MoatAsync(verb, "x");
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains("not supported", r.Stderr);
        }
        var f = await env.MoatAsync("features");
        Assert.Equal(0, f.ExitCode);
        Assert.Equal("1.1.0", (string?)JsonNode.Parse(f.Stdout)!["ociVersionMax"]);
    }

    [Fact]
    public async Task AHookThatMovesAVethIntoTheContainersNetnsGivesTheVmThatLink()
    {
        // Docker's bridge network: its prestart hook (libnetwork-setkey) puts a veth, addressed, in
        // the network namespace of the pid the state names; the VM takes over what it finds there.
        // The far end lives in a namespace of the test's own.
        await using var env = new CliEnv();
        var tag = Guid.NewGuid().ToString("N")[..6];
        var peer = "moat-it-" + tag;
        Assert.Equal(0, (await Cmd.RunAsync("ip", ["netns", "add", peer])).ExitCode);
        System.Diagnostics.Process? listener = null;
        try
        {
            var hook = Path.Combine(env.Dir, "veth.sh");
            File.WriteAllText(hook, $"""
                #!/bin/sh -e
                pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
                ip link add vh{tag} type veth peer name vc{tag}
                ip link set vh{tag} netns {peer}
                ip link set vc{tag} netns $pid
                ip -n {peer} addr add 10.199.7.1/24 dev vh{tag}
                ip -n {peer} link set vh{tag} up
                nsenter -t $pid -n ip addr add 10.199.7.2/24 dev vc{tag}
                nsenter -t $pid -n ip link set vc{tag} up

                """);
            File.SetUnixFileMode(hook, (UnixFileMode)0x1ed);
            var bundle = await env.BundleAsync("b", ["sh", "-c", "for i in 1 2 3 4 5; do echo hello over the veth | nc 10.199.7.1 7070 && exit 0; sleep 1; done; exit 1"],
                spec => spec["hooks"] = new JsonObject { ["prestart"] = new JsonArray(new JsonObject { ["path"] = hook }) });
            listener = Cmd.Start("ip", ["netns", "exec", peer, "busybox", "nc", "-l", "-p", "7070"]);
            var heard = listener.StandardOutput.ReadToEndAsync();
            // Through the shim daemon, as Docker runs it (--pid-file).
            var r = await env.MoatAsync("run", "--pid-file", Path.Combine(env.Dir, "pid"), "--bundle", bundle, Id());
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("hello over the veth", (await heard.WaitAsync(TimeSpan.FromSeconds(30))).Trim());
        }
        finally
        {
            if (listener is { HasExited: false })
            {
                listener.Kill();
            }
            listener?.Dispose();
            await Cmd.RunAsync("ip", ["netns", "del", peer]);
        }
    }

    [Fact]
    public async Task RunGivesHooksTheStateOfEachStepAndDevicesKeepTheirMode()
    {
        await using var env = new CliEnv();
        var stages = new[] { "prestart", "createRuntime", "poststart", "poststop" };
        var bundle = await env.BundleAsync("b", ["stat", "-c", "%a %u %g %t,%T", "/dev/moat-null"], spec =>
        {
            var hooks = new JsonObject();
            foreach (var stage in stages)
            {
                var file = Path.Combine(env.Dir, stage + ".json");
                hooks[stage] = new JsonArray(new JsonObject
                {
                    ["path"] = "/bin/sh",
                    ["args"] = new JsonArray("sh", "-c", $"cat > {file}; echo >> {Path.Combine(env.Dir, "order")} {stage}"),
                });
            }
            spec["hooks"] = hooks;
            spec["linux"]!["devices"] = new JsonArray(new JsonObject
            {
                ["path"] = "/dev/moat-null", ["type"] = "c", ["major"] = 1, ["minor"] = 3, ["fileMode"] = 432 /* 0660 */, ["uid"] = 1000, ["gid"] = 1001,
            });
        });
        var id = Id();

        // Foreground run, as a runc caller uses it: the hooks run at their steps, with the state of that step.
        var r = await env.MoatAsync("run", "--bundle", bundle, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("660 1000 1001 1,3", r.Stdout.Trim());
        Assert.Equal(stages, File.ReadAllLines(Path.Combine(env.Dir, "order")));
        var expected = new Dictionary<string, string> { ["prestart"] = "created", ["createRuntime"] = "created", ["poststart"] = "running", ["poststop"] = "stopped" };
        foreach (var stage in stages)
        {
            var state = JsonNode.Parse(File.ReadAllText(Path.Combine(env.Dir, stage + ".json")))!.AsObject();
            Assert.True(expected[stage] == (string?)state["status"], $"{stage} got {state}");
            Assert.Equal(id, (string?)state["id"]);
            Assert.Equal(bundle, (string?)state["bundle"]);
            if (stage != "poststop")
            {
                Assert.True((int)state["pid"]! > 0, $"{stage} got no pid: {state}");
            }
        }
        Assert.Equal(1, (await env.MoatAsync("state", id)).ExitCode);
    }

    [Fact]
    public async Task ListAndStateSkipAPartialRecordThatDeleteForceRemoves()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sleep", "600"]);
        var good = Id();
        Assert.Equal(0, (await env.MoatAsync("create", "--bundle", bundle, good)).ExitCode);
        // What a create killed mid-write could leave in another runtime: an empty record.
        Directory.CreateDirectory(Path.Combine(env.Root, "partial"));
        File.WriteAllText(Path.Combine(env.Root, "partial", "state.json"), "{}");

        var r = await env.MoatAsync("list");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(good, r.Stdout);
        Assert.DoesNotContain("partial", r.Stdout);
        Assert.Contains("skipping", r.Stderr);
        Assert.Contains("partial", r.Stderr);
        Assert.DoesNotContain("Exception", r.Stderr);

        r = await env.MoatAsync("state", "partial");
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.Contains("corrupt", r.Stderr);
        Assert.Contains("moat delete --force partial", r.Stderr);

        Assert.Equal(1, (await env.MoatAsync("delete", "partial")).ExitCode);
        Assert.Equal(0, (await env.MoatAsync("delete", "--force", "partial")).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(env.Root, "partial")));
        Assert.Equal("created", (string?)(await env.StateAsync(good))["status"]);
        Assert.Equal(0, (await env.MoatAsync("delete", "--force", good)).ExitCode);
    }

    /// <summary>
    /// The shim daemon holding a container's VM SIGKILLed (issue 18, item 3): the container is
    /// stopped, its VM is gone with the daemon, the next verbs on the id answer clearly, delete
    /// works, and the census (at dispose) finds nothing left.
    /// </summary>
    [Fact]
    public async Task AKilledShimDaemonStopsItsContainerAndDeleteCleansUp()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "touch /up; sleep 600"]);
        var id = Id();
        var shimSockets = Directory.GetFiles("/run/moat-node/shim").ToHashSet();
        var r = await env.MoatAsync("run", "--detach", "--bundle", bundle, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        await WaitForMarkAsync(bundle, "up", "the container never started");
        Leftovers.KillTheOnlyShim();

        await WaitForAsync(env, id, "stopped");
        r = await env.MoatAsync("exec", id, "true");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.Contains(id, r.Stderr);
        r = await env.MoatAsync("delete", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(1, (await env.MoatAsync("state", id)).ExitCode);
        Assert.Empty(Leftovers.Processes("qemu", c => c.Contains("qemu-system", StringComparison.Ordinal)));
        Assert.DoesNotContain(Directory.GetFiles("/run/moat-node/shim"), f => !shimSockets.Contains(f)); // the dead daemon's socket went too
    }

    /// <summary>
    /// The pid-file process (the relay that stands for the container's process) SIGKILLed: as with
    /// runc, that pid's end is the container's end. The container stops, delete needs no force,
    /// and nothing is left.
    /// </summary>
    [Fact]
    public async Task AKilledPidFileProcessEndsItsContainer()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "touch /up; sleep 600"]);
        var id = Id();
        var pidFile = Path.Combine(env.Dir, "pid");
        var r = await env.MoatAsync("run", "--detach", "--pid-file", pidFile, "--bundle", bundle, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        await WaitForMarkAsync(bundle, "up", "the container never started");
        System.Diagnostics.Process.GetProcessById(int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture)).Kill();
        await WaitForAsync(env, id, "stopped");
        r = await env.MoatAsync("delete", id);
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    /// <summary>Waits until the container's command has made <paramref name="mark"/> in its rootfs (it runs, and got that far).</summary>
    internal static async Task WaitForMarkAsync(string bundle, string mark, string failure)
    {
        var path = Path.Combine(bundle, "rootfs", mark);
        for (var i = 0; i < 300 && !File.Exists(path); i++)
        {
            await Task.Delay(100);
        }
        Assert.True(File.Exists(path), failure);
    }

    internal static async Task WaitForAsync(CliEnv env, string id, string status)
    {
        for (var i = 0; i < 150; i++)
        {
            if ((string?)(await env.StateAsync(id))["status"] == status)
            {
                return;
            }
            await Task.Delay(200);
        }
        Assert.Fail($"{id} never became {status}");
    }
}
