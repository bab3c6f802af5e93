using System.Diagnostics;

namespace Moat.Integration.Tests.Containerd;

/// <summary>
/// Faults injected mid-operation through a real containerd (issue 18): QEMU SIGKILLed during an
/// exec and during a CPU or memory hotplug, a guest kernel panic during an exec, the shim daemon
/// SIGKILLed during a delete. Each time the caller
/// gets an exit status and containerd's /tasks/exit event, the next call on the id gets a clear
/// answer, and the census after the test (<see cref="DisposeAsync"/>) finds nothing left.
/// </summary>
public sealed partial class ShimTests
{
    [Fact]
    public async Task AVmKilledDuringAnExecEndsTheExecAndTheTaskWithTheirExits()
    {
        var id = Id("fault-exec");
        using var events = TaskEvents.Start(_containerd);
        await StartSleeper(id);
        using var exec = CtrProcess("task", "exec", "--exec-id", "long", id, "sh", "-c", "echo exec-up; sleep 600");
        Assert.Equal("exec-up", await exec.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1)));

        global::Moat.Integration.Tests.Leftovers.KillQemuNaming(id);

        await exec.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(137, exec.ExitCode); // SIGKILL's status: the VM took the process with it
        await WaitForStatus(id, "STOPPED");
        var next = await _containerd.Ctr("task", "exec", "--exec-id", "after", id, "true");
        Assert.True(next.ExitCode != 0, next.ToString());
        Assert.Single(next.Stderr.Trim().Split('\n'));
        await DeleteStopped(id);
        await events.AssertExitAsync(id, "long", 137);
        await events.AssertExitAsync(id, id, 137);
    }

    /// <summary>
    /// A limit on a running task grows its VM: a CPU limit plugs vCPUs (QMP device_add, then
    /// onlining in the guest), a memory limit a DIMM (object-add, device_add, onlining). QEMU is
    /// killed while that runs.
    /// </summary>
    [Theory]
    [InlineData("cpu", "{\"cpu\":{\"quota\":200000,\"period\":100000}}", "{\"cpu\":{\"quota\":100000,\"period\":100000}}")]
    [InlineData("memory", "{\"memory\":{\"limit\":536870912}}", "{\"memory\":{\"limit\":268435456}}")]
    public async Task AVmKilledDuringAHotplugStopsTheTaskAndTheUpdateSaysSo(string what, string grow, string next)
    {
        var id = Id("fault-plug-" + what);
        using var events = TaskEvents.Start(_containerd);
        await StartSleeper(id);
        var update = UpdateAsync(id, grow);
        global::Moat.Integration.Tests.Leftovers.KillQemuNaming(id);
        var error = await update.WaitAsync(TimeSpan.FromMinutes(1)); // an answer, not a hang; which one depends on where the kill landed
        await WaitForStatus(id, "STOPPED");
        if (error is not null)
        {
            Assert.DoesNotContain('\n', error.Trim());
        }
        await events.AssertExitAsync(id, id, 137);
        // The next update names the stopped task instead of reaching for a dead VM.
        var again = await UpdateAsync(id, next);
        Assert.NotNull(again);
        await DeleteStopped(id);
    }

    [Fact]
    public async Task AGuestPanicDuringAnExecEndsTheExecAndTheTaskWithTheirExits()
    {
        var id = Id("fault-panic");
        using var events = TaskEvents.Start(_containerd);
        await StartSleeper(id, "--privileged"); // /proc/sysrq-trigger is writable only there
        using var exec = CtrProcess("task", "exec", "--exec-id", "long", id, "sh", "-c", "echo exec-up; sleep 600");
        Assert.Equal("exec-up", await exec.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1)));

        // A container that escaped to guest root crashes the guest kernel (QEMU pauses it on the panic).
        var panic = await _containerd.Ctr("task", "exec", "--exec-id", "panic", id, "sh", "-c", "echo c > /proc/sysrq-trigger");
        Assert.NotEqual(0, panic.ExitCode);

        await exec.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(137, exec.ExitCode);
        await WaitForStatus(id, "STOPPED");
        var next = await _containerd.Ctr("task", "exec", "--exec-id", "after", id, "true");
        Assert.True(next.ExitCode != 0, next.ToString());
        await DeleteStopped(id);
        await events.AssertExitAsync(id, "long", 137);
        await events.AssertExitAsync(id, id, 137);
    }

    [Fact]
    public async Task AShimKilledDuringADeleteLeavesNothingAndTheIdRunsAgain()
    {
        // Wherever in the delete the kill lands (before the shim is reached, mid-teardown, after
        // the VM is gone), containerd cleans up after the dead shim and the id is usable again.
        foreach (var delay in new[] { 0, 150, 400 })
        {
            var id = Id("fault-delete");
            using var events = TaskEvents.Start(_containerd);
            await StartSleeper(id);
            Assert.Equal(0, (await _containerd.Ctr("task", "kill", "-s", "SIGKILL", id)).ExitCode);
            await WaitForStatus(id, "STOPPED");
            await events.AssertExitAsync(id, id, 137);
            var delete = _containerd.Ctr("task", "delete", id);
            await Task.Delay(delay);
            foreach (var shim in global::Moat.Integration.Tests.Leftovers.ShimProcesses())
            {
                try
                {
                    Process.GetProcessById(int.Parse(shim.Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture)).Kill();
                }
                catch (ArgumentException)
                {
                    // already gone: the delete finished first
                }
            }
            await delete.WaitAsync(TimeSpan.FromMinutes(1));
            // Whatever the first delete said, the task is gone or goes with a second one.
            var tasks = await _containerd.Ctr("task", "ls", "-q");
            if (tasks.Stdout.Split('\n').Contains(id))
            {
                var second = await _containerd.Ctr("task", "delete", "-f", id);
                Assert.True(second.ExitCode == 0, second.ToString());
            }
            Assert.Equal(0, (await _containerd.Ctr("container", "rm", id)).ExitCode);
            // The host cgroup ctr named for it (/NAMESPACE/ID) went too, whoever removed it.
            Assert.False(Directory.Exists($"/sys/fs/cgroup/memory/{ContainerdFixture.Namespace}/{id}"), "its host cgroup was left");
            var again = await Run(id, "echo", "again");
            Assert.True(again.ExitCode == 0 && again.Stdout == "again\n", again.ToString());
        }
    }

    private async Task StartSleeper(string id, params string[] flags)
    {
        var d = await _containerd.Ctr(["run", "-d", .. flags, "--runtime", Runtime, ContainerdFixture.Image, id, "sleep", "300"]);
        Assert.True(d.ExitCode == 0, d.ToString());
        await WaitForStatus(id, "RUNNING");
    }

    private async Task DeleteStopped(string id)
    {
        var delete = await _containerd.Ctr("task", "delete", id);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Equal(0, (await _containerd.Ctr("container", "rm", id)).ExitCode);
    }

    private Process CtrProcess(params string[] args) =>
        Cmd.Start("ctr", ["--address", _containerd.Socket, "--namespace", ContainerdFixture.Namespace, .. args]);

    /// <summary>containerd's Update sent to the shim (ctr 1.6 has no `task update`): null when it worked, else the error.</summary>
    private static async Task<string?> UpdateAsync(string id, string resourcesJson)
    {
        try
        {
            await using var client = await global::Moat.Ttrpc.TtrpcClient.ConnectUnixAsync(ShimSocket(id), CancellationToken.None);
            await client.CallAsync("containerd.task.v2.Task", "Update", new global::Moat.Protocols.Containerd.Task.UpdateTaskRequest
            {
                Id = id,
                Resources = new Google.Protobuf.WellKnownTypes.Any
                {
                    TypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
                    Value = Google.Protobuf.ByteString.CopyFromUtf8(resourcesJson),
                },
            }, Google.Protobuf.WellKnownTypes.Empty.Parser, new global::Moat.Ttrpc.CallOptions { Metadata = NamespaceOptions.Metadata, Timeout = TimeSpan.FromMinutes(1) });
            return null;
        }
        catch (global::Moat.Ttrpc.TtrpcException e)
        {
            return e.Message;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            return e.Message; // the shim went with its task
        }
    }

    /// <summary><c>ctr events</c> for the test's namespace, kept until disposed.</summary>
    private sealed class TaskEvents : IDisposable
    {
        private readonly Process _ctr;
        private readonly List<string> _lines = [];
        private readonly Task _reader;

        private TaskEvents(Process ctr)
        {
            _ctr = ctr;
            _reader = Task.Run(async () =>
            {
                while (await ctr.StandardOutput.ReadLineAsync() is { } line)
                {
                    lock (_lines)
                    {
                        _lines.Add(line);
                    }
                }
            });
        }

        public static TaskEvents Start(ContainerdFixture containerd)
        {
            var events = new TaskEvents(Cmd.Start("ctr", ["--address", containerd.Socket, "--namespace", ContainerdFixture.Namespace, "events"]));
            Thread.Sleep(300); // subscribed before the test acts
            return events;
        }

        /// <summary>A /tasks/exit of <paramref name="execId"/> (the container's id for its init) with <paramref name="status"/> arrives.</summary>
        public async Task AssertExitAsync(string id, string execId, int status)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                List<string> exits;
                lock (_lines)
                {
                    exits = _lines.Where(l => l.Contains("/tasks/exit", StringComparison.Ordinal) && l.Contains($"\"container_id\":\"{id}\"", StringComparison.Ordinal)).ToList();
                }
                if (exits.Any(l => l.Contains($"\"id\":\"{execId}\"", StringComparison.Ordinal) && l.Contains($"\"exit_status\":{status}", StringComparison.Ordinal)))
                {
                    return;
                }
                Assert.True(DateTime.UtcNow < deadline, $"no /tasks/exit of {execId} with {status}; exits of {id}: " + string.Join(" | ", exits));
                await Task.Delay(100);
            }
        }

        public void Dispose()
        {
            _ctr.Kill();
            _reader.Wait(TimeSpan.FromSeconds(5));
            _ctr.Dispose();
        }
    }
}
