using System.Text.RegularExpressions;

namespace Moat.Integration.Tests.Containerd;

/// <summary>containerd-shim-moat-v2 driven by a real containerd through ctr.</summary>
[Collection("vm")]
public sealed partial class ShimTests : IClassFixture<ContainerdFixture>, IAsyncLifetime
{
    private const string Runtime = "io.containerd.moat.v2";
    private readonly ContainerdFixture _containerd;

    public ShimTests(ContainerdFixture containerd) => _containerd = containerd;

    private HashSet<string> _socketsBefore = [];

    public Task InitializeAsync()
    {
        _socketsBefore = global::Moat.Integration.Tests.Leftovers.Sockets();
        return Task.CompletedTask;
    }

    /// <summary>After each test: no task, shim, VM, mount, socket or state is left.</summary>
    public async Task DisposeAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        List<string> left;
        while ((left = Leftovers()).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        if (left.Count > 0)
        {
            // Fail this test, but clean up so the tests after it start from nothing.
            var tasks = await _containerd.Ctr("task", "ls", "-q");
            foreach (var t in tasks.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                await _containerd.Ctr("task", "kill", "-s", "SIGKILL", t);
            }
            await global::Moat.Integration.Tests.Leftovers.ReapAsync(
                Path.Combine("/run/moat-node/containerd", ContainerdFixture.Namespace), _containerd.Dir + "/state");
            foreach (var t in tasks.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                await _containerd.Ctr("task", "delete", "-f", t);
            }
            var containers = await _containerd.Ctr("containers", "ls", "-q");
            foreach (var c in containers.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                await _containerd.Ctr("containers", "delete", c);
            }
        }
        Assert.True(left.Count == 0, "left behind: " + string.Join("; ", left));
    }

    private List<string> Leftovers()
    {
        var found = global::Moat.Integration.Tests.Leftovers.Find(Path.Combine("/run/moat-node/containerd", ContainerdFixture.Namespace), _socketsBefore);
        found.AddRange(global::Moat.Integration.Tests.Leftovers.ShimProcesses());
        found.AddRange(File.ReadLines("/proc/self/mountinfo").Where(l => l.Contains(_containerd.Dir + "/state", StringComparison.Ordinal)).Select(l => "mount " + l.Split(' ')[4]));
        return found;
    }

    /// <summary>The socket of the shim daemon serving <paramref name="id"/>, for calls ctr 1.6 cannot make.</summary>
    private static string ShimSocket(string id) =>
        Path.Combine("/run/moat-node/shim", global::Moat.Runtime.NameHash.Hex(ContainerdFixture.Namespace + "/" + id, 24) + ".sock");

    private static readonly global::Moat.Ttrpc.CallOptions NamespaceOptions =
        new() { Metadata = new Dictionary<string, string> { ["containerd-namespace-ttrpc"] = ContainerdFixture.Namespace } };

    private static string Id(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private Task<CmdResult> Run(string id, params string[] command) =>
        _containerd.Ctr(["run", "--rm", "--runtime", Runtime, ContainerdFixture.Image, id, .. command]);

    [Fact]
    public async Task RunPrintsTheGuestKernel()
    {
        var r = await Run(Id("uname"), "uname", "-r");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), r.Stdout.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+-\d+-amd64$", r.Stdout.Trim());
    }

    /// <summary>
    /// containerd restarted under running tasks (issue 18): the shims keep their VMs, the restarted
    /// containerd reaches them again, and an exit that happened while it was away still arrives
    /// (the shim retries its event), so waits, execs and deletes work as before.
    /// </summary>
    [Fact]
    public async Task TasksSurviveAContainerdRestartAndAnExitWhileItWasAwayArrives()
    {
        var (survivor, leaver) = (Id("survivor"), Id("leaver"));
        foreach (var (id, command) in new[] { (survivor, "sleep 300"), (leaver, "sleep 4") })
        {
            var r = await _containerd.Ctr("run", "-d", "--runtime", Runtime, ContainerdFixture.Image, id, "sh", "-c", command);
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        await WaitForStatus(survivor, "RUNNING");
        var qemuBefore = global::Moat.Integration.Tests.Leftovers.Processes("qemu", c => c.Contains(survivor, StringComparison.Ordinal)).ToList();

        await _containerd.RestartAsync(away: TimeSpan.FromSeconds(6)); // the leaver exits meanwhile

        Assert.Equal(qemuBefore, global::Moat.Integration.Tests.Leftovers.Processes("qemu", c => c.Contains(survivor, StringComparison.Ordinal)));
        await WaitForStatus(survivor, "RUNNING");
        var exec = await _containerd.Ctr("task", "exec", "--exec-id", "after-restart", survivor, "echo", "still here");
        Assert.True(exec.ExitCode == 0 && exec.Stdout == "still here\n", exec.ToString());
        await WaitForStatus(leaver, "STOPPED");
        var deleted = await _containerd.Ctr("task", "delete", leaver);
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        // The exit the shim could not tell the stopped containerd reached the restarted one.
        var log = File.ReadAllLines(_containerd.Log);
        var since = Array.FindLastIndex(log, l => l.Contains("msg=\"starting containerd\"", StringComparison.Ordinal));
        Assert.Contains(log[since..], l => l.Contains("msg=\"event forwarded\"", StringComparison.Ordinal) && l.Contains("topic=/tasks/exit", StringComparison.Ordinal));

        Assert.Equal(0, (await _containerd.Ctr("task", "kill", "-s", "SIGKILL", survivor)).ExitCode);
        await WaitForStatus(survivor, "STOPPED");
        Assert.Equal(0, (await _containerd.Ctr("task", "delete", survivor)).ExitCode);
        foreach (var id in new[] { survivor, leaver })
        {
            Assert.Equal(0, (await _containerd.Ctr("containers", "delete", id)).ExitCode);
        }
    }

    /// <summary>containerd runs at debug level here, so the shim's phases and the guest console reach containerd's log, in its format.</summary>
    [Fact]
    public async Task TheShimsLinesReachContainerdsLogWithLevelsAndTheSandboxId()
    {
        var id = Id("logged");
        var r = await Run(id, "true");
        Assert.True(r.ExitCode == 0, r.ToString());
        // containerd copies the shim's FIFO as it reads it: the last lines may come a moment after the task ends.
        string[] ours = [];
        for (var i = 0; i < 50 && !ours.Any(l => l.Contains($"created {id} ", StringComparison.Ordinal)); i++)
        {
            await Task.Delay(100);
            ours = File.ReadAllLines(_containerd.Log).Where(l => l.Contains($" id={id} ", StringComparison.Ordinal) && l.Contains("runtime=io.containerd.moat.v2", StringComparison.Ordinal)).ToArray();
        }
        Assert.Contains(ours, l => l.Contains("level=info msg=\"serving the task API on ", StringComparison.Ordinal));
        Assert.Contains(ours, l => l.Contains("level=debug msg=", StringComparison.Ordinal) && l.Contains("agent answered", StringComparison.Ordinal)
            && l.Contains($"namespace={ContainerdFixture.Namespace}", StringComparison.Ordinal));
        Assert.Contains(ours, l => l.Contains($"level=debug msg=\"guest console: moat-agent: created {id} ", StringComparison.Ordinal));
        Assert.DoesNotContain(ours, l => l.Contains("level=warning", StringComparison.Ordinal) || l.Contains("level=error", StringComparison.Ordinal)); // a clean run
        Assert.All(ours, l => Assert.Matches("^time=\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z\" level=(debug|info|warning|error) msg=", l));
    }

    /// <summary>The seed's "katacli" runtime: containerd's own runc shim with moat as its runc (BinaryName).</summary>
    [Fact]
    public async Task RuncShimWithMoatAsBinaryNameRunsTheContainerInAVm()
    {
        var id = Id("runc-shim");
        var r = await _containerd.Ctr("run", "--rm", "--runtime", "io.containerd.runc.v2", "--runc-binary", Cmd.Moat, ContainerdFixture.Image, id,
            "sh", "-c", "uname -r; exit 4");
        Assert.True(r.ExitCode == 4, r.ToString());
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), r.Stdout.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+-\d+-amd64$", r.Stdout.Trim());
        Assert.Empty(global::Moat.Integration.Tests.Leftovers.RelayProcesses());
    }

    [Fact]
    public async Task ExitCodesComeBack()
    {
        Assert.Equal(0, (await Run(Id("exit0"), "true")).ExitCode);
        var r = await Run(Id("exit3"), "sh", "-c", "exit 3");
        Assert.True(r.ExitCode == 3, r.ToString());
    }

    [Fact]
    public async Task KilledTaskExitsWith137()
    {
        var id = Id("kill");
        var run = Run(id, "sleep", "300");
        await WaitForStatus(id, "RUNNING");
        var k = await _containerd.Ctr("task", "kill", "-s", "SIGKILL", id);
        Assert.True(k.ExitCode == 0, k.ToString());
        var r = await run;
        Assert.True(r.ExitCode == 137, r.ToString());
    }

    /// <summary>
    /// The shim daemon SIGKILLed under a running task (issue 18, item 3): its VM goes with it,
    /// ctr run sees the task end, containerd cleans up through the shim binary's delete, and the
    /// census after the test finds nothing of it.
    /// </summary>
    [Fact]
    public async Task AKilledShimTakesItsVmAndTheCallerSeesTheTaskEnd()
    {
        var id = Id("shimkill");
        var run = Run(id, "sleep", "300");
        await WaitForStatus(id, "RUNNING");
        global::Moat.Integration.Tests.Leftovers.KillTheOnlyShim();
        var r = await run.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Empty(global::Moat.Integration.Tests.Leftovers.Processes("qemu", c => c.Contains("qemu-system", StringComparison.Ordinal) && c.Contains(id, StringComparison.Ordinal)));
        var again = await Run(id, "true"); // the id is usable again at once
        Assert.True(again.ExitCode == 0, again.ToString());
    }

    [Fact]
    public async Task ExecInARunningContainerAndKillAll()
    {
        var id = Id("exec");
        await WithRunningTask(id, async () =>
        {
            var e = await _containerd.Ctr("task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo exec-ok; cat /proc/1/cmdline | tr '\\0' ' '; exit 4");
            Assert.True(e.ExitCode == 4, e.ToString());
            Assert.Equal("exec-ok\nsleep 300 ", e.Stdout);
            var k = await _containerd.Ctr("task", "kill", "-a", "-s", "SIGKILL", id);
            Assert.True(k.ExitCode == 0, k.ToString());
            await WaitForStatus(id, "STOPPED");
        });
    }

    /// <summary>Every capability dropped, one --cap-drop each: containerd writes "capabilities": {} and the task holds none.</summary>
    [Fact]
    public async Task DroppingEveryCapabilityLeavesTheTaskWithNone()
    {
        var drops = global::Moat.Linux.Capabilities.All.SelectMany(c => new[] { "--cap-drop", c }).ToArray();
        var r = await _containerd.Ctr(["run", "--rm", "--runtime", Runtime, .. drops, ContainerdFixture.Image, Id("nocaps"), "sh", "-c", GuestPrivileges.StatusScript]);
        Assert.True(r.ExitCode == 0, r.ToString());
        GuestPrivileges.AssertNoCapabilities(r.Stdout);
    }

    /// <summary>ctr's --seccomp-profile: the task and a process exec'd into it run under the profile's filter.</summary>
    [Fact]
    public async Task SeccompProfileFiltersTheTaskAndItsExecs()
    {
        var id = Id("seccomp");
        var profile = Path.Combine(_containerd.Dir, id + ".json");
        File.WriteAllText(profile, GuestPrivileges.BlockSethostname().ToJsonString());
        await WithRunningTask(id, async () =>
        {
            var e = await _containerd.Ctr("task", "exec", "--exec-id", "s1", id, "sh", "-c",
                "grep Seccomp: /proc/1/status; " + GuestPrivileges.StatusAndHostnameScript);
            Assert.True(e.ExitCode == 0, e.ToString());
            Assert.StartsWith("Seccomp:\t2\n", e.Stdout, StringComparison.Ordinal); // the task's own process
            GuestPrivileges.AssertSethostnameBlocked(e.Stdout[e.Stdout.IndexOf('\n', StringComparison.Ordinal)..]);
        }, "--seccomp", "--seccomp-profile", profile, "--cap-add", "CAP_SYS_ADMIN");
    }

    [Fact]
    public async Task PauseAndResume()
    {
        var id = Id("pause");
        await WithRunningTask(id, async () =>
        {
            Assert.Equal(0, (await _containerd.Ctr("task", "pause", id)).ExitCode);
            await WaitForStatus(id, "PAUSED");
            Assert.Equal(0, (await _containerd.Ctr("task", "resume", id)).ExitCode);
            await WaitForStatus(id, "RUNNING");
            Assert.Equal(0, (await _containerd.Ctr("task", "kill", "-s", "SIGKILL", id)).ExitCode);
            await WaitForStatus(id, "STOPPED");
        });
    }

    [Fact]
    public async Task MetricsComeFromTheContainersCgroup()
    {
        var id = Id("metrics");
        await WithRunningTask(id, async () =>
        {
            var m = await _containerd.Ctr("task", "metrics", id);
            Assert.True(m.ExitCode == 0, m.ToString());
            Assert.Matches(@"pids\.current\s+1\b", m.Stdout);
            Assert.Matches(@"memory\.usage\s+[1-9]\d*", m.Stdout);
            Assert.Contains("cpu.usage_usec", m.Stdout);
        });
    }

    [Fact]
    public async Task UpdateChangesTheContainersLimits()
    {
        var id = Id("update");
        await WithRunningTask(id, async () =>
        {
            var before = await MemTotalKib(id, "mem0");
            // ctr 1.6 has no `task update`: send containerd's Update call to the shim's socket directly.
            var socket = ShimSocket(id);
            await using (var client = await global::Moat.Ttrpc.TtrpcClient.ConnectUnixAsync(socket, CancellationToken.None))
            {
                await client.CallAsync("containerd.task.v2.Task", "Update", new global::Moat.Protocols.Containerd.Task.UpdateTaskRequest
                {
                    Id = id,
                    Resources = new Google.Protobuf.WellKnownTypes.Any
                    {
                        TypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
                        Value = Google.Protobuf.ByteString.CopyFromUtf8("{\"memory\":{\"limit\":134217728}}"),
                    },
                }, Google.Protobuf.WellKnownTypes.Empty.Parser,
                NamespaceOptions);
            }
            // containerd's default spec mounts no cgroupfs in the container: read the limit back as a client does.
            var m = await _containerd.Ctr("task", "metrics", id);
            Assert.True(m.ExitCode == 0, m.ToString());
            Assert.Matches(@"memory\.usage_limit\s+134217728\b", m.Stdout);
            // The VM is sized for the default plus the limit: 128 MiB was hotplugged and onlined.
            var after = await MemTotalKib(id, "mem1");
            Assert.InRange(after - before, 120L * 1024, 130L * 1024);
        });
    }

    [Fact]
    public async Task TwoConcurrentDeletesTearTheSandboxDownOnce()
    {
        var id = Id("deldel");
        var d = await _containerd.Ctr("run", "-d", "--runtime", Runtime, ContainerdFixture.Image, id, "sleep", "300");
        Assert.True(d.ExitCode == 0, d.ToString());
        await WaitForStatus(id, "RUNNING");
        Assert.Equal(0, (await _containerd.Ctr("task", "kill", "-s", "SIGKILL", id)).ExitCode);
        await WaitForStatus(id, "STOPPED");
        // Two deletes racing, as a kubelet retry and containerd's own cleanup may: one wins, one hears NotFound.
        var socket = ShimSocket(id);
        await using (var a = await global::Moat.Ttrpc.TtrpcClient.ConnectUnixAsync(socket, CancellationToken.None))
        await using (var b = await global::Moat.Ttrpc.TtrpcClient.ConnectUnixAsync(socket, CancellationToken.None))
        {
            async Task<global::Moat.Ttrpc.StatusCode> Delete(global::Moat.Ttrpc.TtrpcClient c)
            {
                try
                {
                    await c.CallAsync("containerd.task.v2.Task", "Delete", new global::Moat.Protocols.Containerd.Task.DeleteRequest { Id = id },
                        global::Moat.Protocols.Containerd.Task.DeleteResponse.Parser, NamespaceOptions);
                    return global::Moat.Ttrpc.StatusCode.OK;
                }
                catch (global::Moat.Ttrpc.TtrpcException e)
                {
                    return e.Code;
                }
            }
            var codes = await Task.WhenAll(Delete(a), Delete(b));
            Assert.Equal([global::Moat.Ttrpc.StatusCode.OK, global::Moat.Ttrpc.StatusCode.NotFound], codes.Order());
            // What containerd does after its own delete: the shim, serving nothing now, exits.
            await a.CallAsync("containerd.task.v2.Task", "Shutdown", new global::Moat.Protocols.Containerd.Task.ShutdownRequest { Id = id },
                Google.Protobuf.WellKnownTypes.Empty.Parser, NamespaceOptions);
        }
        // containerd still holds the task: its delete finds the shim gone and cleans up after it.
        await _containerd.Ctr("task", "delete", id);
        Assert.Equal(0, (await _containerd.Ctr("container", "rm", id)).ExitCode);
    }

    [Fact]
    public async Task OneMebibyteOfStdoutArrivesIntact()
    {
        var r = await Run(Id("mib"), "sh", "-c", "yes 0123456789abcde | head -c 1048576");
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}");
        Assert.Equal(1048576, r.Stdout.Length);
        Assert.Equal(string.Concat(Enumerable.Repeat("0123456789abcde\n", 65536)), r.Stdout);
    }

    [Fact]
    public async Task EventsArriveInTheContractsOrder()
    {
        var id = Id("events");
        using var events = Cmd.Start("ctr", ["--address", _containerd.Socket, "--namespace", ContainerdFixture.Namespace, "events"]);
        var lines = new List<string>();
        var reader = Task.Run(async () =>
        {
            while (await events.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (lines)
                {
                    lines.Add(line);
                }
            }
        });
        await Task.Delay(500);
        var d = await _containerd.Ctr("run", "-d", "--runtime", Runtime, ContainerdFixture.Image, id, "sleep", "300");
        Assert.True(d.ExitCode == 0, d.ToString());
        await WaitForStatus(id, "RUNNING");
        Assert.Equal(0, (await _containerd.Ctr("task", "exec", "--exec-id", "ev1", id, "true")).ExitCode);
        Assert.Equal(0, (await _containerd.Ctr("task", "kill", "-s", "SIGKILL", id)).ExitCode);
        await WaitForStatus(id, "STOPPED");
        Assert.Equal(0, (await _containerd.Ctr("task", "delete", id)).ExitCode);
        await _containerd.Ctr("container", "rm", id);
        await Task.Delay(1000);
        events.Kill();
        await reader;
        List<string> topics;
        lock (lines)
        {
            topics = lines.Where(l => l.Contains(id, StringComparison.Ordinal))
                .Select(l => Regex.Match(l, @"/tasks/[a-z-]+").Value).Where(t => t.Length > 0).ToList();
        }
        // The exec's exit and delete (delete is a SHOULD for execs), then the task's own exit and delete.
        Assert.Equal(["/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started", "/tasks/exit", "/tasks/delete", "/tasks/exit", "/tasks/delete"], topics);
    }

    [Fact]
    public async Task RunWithATerminal()
    {
        // ctr -t needs a terminal of its own: script(1) gives it one.
        var id = Id("tty");
        var ctr = $"ctr --address {_containerd.Socket} --namespace {ContainerdFixture.Namespace} run -t --rm --runtime {Runtime} {ContainerdFixture.Image} {id} sh -c 'tty; sleep 1; stty size'"; // ctr resizes after Start
        // stdin stays open until the end, as with a person at the terminal.
        using var p = Cmd.Start("script", ["-qec", $"stty rows 33 cols 111; {ctr}", "/dev/null"]);
        var stdout = await p.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(1));
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        p.StandardInput.Close();
        Assert.True(p.ExitCode == 0, stdout + await p.StandardError.ReadToEndAsync());
        Assert.Matches(@"^/dev/pts/\d+\r+\n33 111\r+\n$", stdout); // script's own pty adds a \r
    }

    [Fact]
    public async Task RuntimeConfigPathSizesTheVm()
    {
        var cfg = Path.Combine(_containerd.Dir, "moat-320.toml");
        File.WriteAllText(cfg, "[hypervisor]\nmemory_mib = 320\n");
        var r = await _containerd.Ctr("run", "--rm", "--runtime", Runtime, "--runtime-config-path", cfg, ContainerdFixture.Image, Id("cfg"),
            "sh", "-c", "awk '/MemTotal/ {print $2}' /proc/meminfo");
        Assert.True(r.ExitCode == 0, r.ToString());
        var kib = long.Parse(r.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(kib, 200 * 1024, 320 * 1024);
    }

    [Fact]
    public async Task BadConfigFileAndBadSpecAreProperErrors()
    {
        var cfg = Path.Combine(_containerd.Dir, "moat-bad.toml");
        File.WriteAllText(cfg, "[hypervisor]\nmemroy_mib = 320\n");
        var r = await _containerd.Ctr("run", "--rm", "--runtime", Runtime, "--runtime-config-path", cfg, ContainerdFixture.Image, Id("badcfg"), "true");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("hypervisor.memroy_mib: unknown key", r.Stderr);

        // ctr --config takes a whole config.json and only the container id; the rootfs is named in it.
        var bundle = Path.Combine(_containerd.Dir, "badspec-" + Guid.NewGuid().ToString("N")[..6]);
        Assert.Equal(0, (await Cmd.RunAsync(Cmd.Moat, ["image", "busybox", bundle, "true"])).ExitCode);
        var spec = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!;
        spec["root"]!["path"] = Path.Combine(bundle, "rootfs");
        spec["process"]!["cwd"] = "relative";
        var specPath = Path.Combine(bundle, "bad.json");
        File.WriteAllText(specPath, spec.ToJsonString());
        r = await _containerd.Ctr("run", "--rm", "--runtime", Runtime, "--config", specPath, Id("badspec"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("process.cwd", r.Stderr);
    }

    [Fact]
    public async Task OomKillInTheGuestRaisesTaskOom()
    {
        var id = Id("oom");
        using var events = Cmd.Start("ctr", ["--address", _containerd.Socket, "--namespace", ContainerdFixture.Namespace, "events"]);
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            while (await events.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.Contains("/tasks/oom", StringComparison.Ordinal) && line.Contains(id, StringComparison.Ordinal))
                {
                    seen.TrySetResult();
                }
            }
        });
        await Task.Delay(500);
        var r = await _containerd.Ctr("run", "--rm", "--runtime", Runtime, "--memory-limit", (32L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ContainerdFixture.Image, id, "sh", "-c", "head -c 300m /dev/zero | tail > /dev/null; echo status=$?");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("status=137\n", r.Stdout);
        await seen.Task.WaitAsync(TimeSpan.FromSeconds(10));
        events.Kill();
    }

    [Fact]
    public async Task TwoContainersRunAtOnce()
    {
        var a = Run(Id("two-a"), "sh", "-c", "sleep 2; echo a-done");
        var b = Run(Id("two-b"), "sh", "-c", "sleep 2; echo b-done");
        var (ra, rb) = (await a, await b);
        Assert.True(ra.ExitCode == 0 && rb.ExitCode == 0, ra + "\n" + rb);
        Assert.Equal("a-done\n", ra.Stdout);
        Assert.Equal("b-done\n", rb.Stdout);
    }

    [Fact]
    public async Task ContainersOfOneGroupShareOneVmButNotTheirProcesses()
    {
        var group = Id("pod");
        var (a, b) = (Id("pod-a"), Id("pod-b"));
        var qemusBefore = QemuPids();
        foreach (var id in new[] { a, b })
        {
            var d = await _containerd.Ctr("run", "-d", "--runtime", Runtime, "--annotation", "io.containerd.runc.v2.group=" + group,
                "--memory-limit", (64L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), ContainerdFixture.Image, id, "sleep", "300");
            Assert.True(d.ExitCode == 0, d.ToString());
            await WaitForStatus(id, "RUNNING");
        }
        try
        {
            // One VM: one more QEMU, one guest kernel boot shared by both.
            Assert.Single(QemuPids().Except(qemusBefore));
            var bootA = await _containerd.Ctr("task", "exec", "--exec-id", "ba", a, "cat", "/proc/sys/kernel/random/boot_id");
            var bootB = await _containerd.Ctr("task", "exec", "--exec-id", "bb", b, "cat", "/proc/sys/kernel/random/boot_id");
            Assert.True(bootA.ExitCode == 0 && bootB.ExitCode == 0, bootA + "\n" + bootB);
            Assert.Equal(bootA.Stdout, bootB.Stdout);

            // Separate containers: each sees only its own processes and its own root.
            var psA = await _containerd.Ctr("task", "exec", "--exec-id", "pa", a, "ps", "-o", "args");
            Assert.True(psA.ExitCode == 0, psA.ToString());
            Assert.Contains("sleep 300", psA.Stdout);
            Assert.Equal(2, psA.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => !l.StartsWith("COMMAND", StringComparison.Ordinal)));
            Assert.Equal(0, (await _containerd.Ctr("task", "exec", "--exec-id", "ta", a, "touch", "/only-in-a")).ExitCode);
            Assert.NotEqual(0, (await _containerd.Ctr("task", "exec", "--exec-id", "tb", b, "test", "-e", "/only-in-a")).ExitCode);

            // Pausing one freezes only that one.
            Assert.Equal(0, (await _containerd.Ctr("task", "pause", a)).ExitCode);
            await WaitForStatus(a, "PAUSED");
            var whileAPaused = await _containerd.Ctr("task", "exec", "--exec-id", "wb", b, "echo", "b-runs");
            Assert.True(whileAPaused.ExitCode == 0 && whileAPaused.Stdout == "b-runs\n", whileAPaused.ToString());
            Assert.Equal(0, (await _containerd.Ctr("task", "resume", a)).ExitCode);

            // Deleting one leaves the other, and the VM, running.
            Assert.Equal(0, (await _containerd.Ctr("task", "kill", "-s", "SIGKILL", b)).ExitCode);
            await WaitForStatus(b, "STOPPED");
            Assert.Equal(0, (await _containerd.Ctr("task", "delete", b)).ExitCode);
            var still = await _containerd.Ctr("task", "exec", "--exec-id", "sa", a, "echo", "a-runs");
            Assert.True(still.ExitCode == 0 && still.Stdout == "a-runs\n", still.ToString());
            Assert.Single(QemuPids().Except(qemusBefore));
        }
        finally
        {
            foreach (var id in new[] { b, a })
            {
                await _containerd.Ctr("task", "kill", "-s", "SIGKILL", id);
                await _containerd.Ctr("task", "delete", "-f", id);
                await _containerd.Ctr("container", "rm", id);
            }
        }
    }

    private static HashSet<int> QemuPids() =>
        Directory.EnumerateDirectories("/proc").Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0).Where(pid =>
        {
            try
            {
                return pid > 0 && File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("/usr/bin/qemu-system", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        }).ToHashSet();

    [Fact]
    public async Task KilledShimIsCleanedUpByContainerd()
    {
        var id = Id("lost");
        var d = await _containerd.Ctr("run", "-d", "--runtime", Runtime, ContainerdFixture.Image, id, "sleep", "300");
        Assert.True(d.ExitCode == 0, d.ToString());
        await WaitForStatus(id, "RUNNING");
        var shim = Leftovers().First(l => l.StartsWith("shim ", StringComparison.Ordinal));
        await Cmd.RunAsync("kill", ["-9", Path.GetFileName(shim)]);
        // containerd notices the lost shim, runs `containerd-shim-moat-v2 delete`, and the task is gone.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await _containerd.Ctr("task", "ls", "-q")).Stdout.Contains(id, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        Assert.DoesNotContain(id, (await _containerd.Ctr("task", "ls", "-q")).Stdout);
        await _containerd.Ctr("container", "rm", id);
    }

    [Fact]
    public async Task UnknownExecIdAndSecondStartAreProperErrors()
    {
        var id = Id("errs");
        await WithRunningTask(id, async () =>
        {
            var k = await _containerd.Ctr("task", "kill", "--exec-id", "nope", id);
            Assert.NotEqual(0, k.ExitCode);
            Assert.Contains("not found", k.Stderr);
            var s = await _containerd.Ctr("task", "start", id);
            Assert.NotEqual(0, s.ExitCode);
            Assert.Equal(0, (await _containerd.Ctr("task", "kill", "-s", "SIGKILL", id)).ExitCode);
            await WaitForStatus(id, "STOPPED");
            var again = await _containerd.Ctr("task", "kill", "-s", "SIGKILL", id);
            Assert.NotEqual(0, again.ExitCode);
            Assert.Contains("process already finished", again.Stderr);
        });
    }

    /// <summary>Runs <paramref name="body"/> against a detached `sleep 300` task, then kills, deletes and removes it.</summary>
    private async Task WithRunningTask(string id, Func<Task> body, params string[] runFlags)
    {
        var d = await _containerd.Ctr(["run", "-d", "--runtime", Runtime, .. runFlags, ContainerdFixture.Image, id, "sleep", "300"]);
        Assert.True(d.ExitCode == 0, d.ToString());
        try
        {
            await WaitForStatus(id, "RUNNING");
            await body();
        }
        finally
        {
            await _containerd.Ctr("task", "kill", "-s", "SIGKILL", id);
            await WaitForStatus(id, "STOPPED");
            await _containerd.Ctr("task", "delete", "-f", id);
            await _containerd.Ctr("container", "rm", id);
        }
    }

    private async Task<long> MemTotalKib(string id, string execId)
    {
        var e = await _containerd.Ctr("task", "exec", "--exec-id", execId, id, "awk", "/MemTotal/ {print $2}", "/proc/meminfo");
        Assert.True(e.ExitCode == 0, e.ToString());
        return long.Parse(e.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task WaitForStatus(string id, string status)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var r = await _containerd.Ctr("task", "ls");
            last = r.Stdout;
            if (r.Stdout.Split('\n').Any(l => l.StartsWith(id + " ", StringComparison.Ordinal) && l.Contains(status, StringComparison.Ordinal)))
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail($"task {id} never reached {status}: {last}");
    }
}
