using Google.Protobuf.WellKnownTypes;
using Moat.Protocols.Containerd.Task;
using Moat.Ttrpc;

namespace Moat.Integration.Tests.Containerd;

/// <summary>
/// Bad requests ctr cannot send, made the way containerd makes them: `start` in a bundle, then
/// ttrpc on the address it prints. Each gets a proper status and the shim keeps serving.
/// </summary>
[Collection("vm")]
public sealed class ShimProtocolTests
{
    [Fact]
    public async Task FailedRootfsMountAndUnknownMethodAreProperStatuses()
    {
        var dir = Directory.CreateTempSubdirectory("moat-shim-proto-").FullName;
        var bundle = Path.Combine(dir, "bundle");
        Assert.Equal(0, (await Cmd.RunAsync(Cmd.Moat, ["image", "busybox", bundle, "true"])).ExitCode);
        var id = "proto-" + Guid.NewGuid().ToString("N")[..8];
        var shimArgs = new[] { "-namespace", "moat-proto", "-id", id, "-address", "/dev/null", "-publish-binary", "/bin/true" };
        var start = await Cmd.RunAsync("sh", ["-c", $"cd '{bundle}' && exec containerd-shim-moat-v2 {string.Join(' ', shimArgs)} start"]);
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.StartsWith("unix:///", start.Stdout);
        var socket = start.Stdout["unix://".Length..];
        try
        {
            await using var client = await TtrpcClient.ConnectUnixAsync(socket, CancellationToken.None);
            var options = new CallOptions { Metadata = new Dictionary<string, string> { ["containerd-namespace-ttrpc"] = "moat-proto" } };

            var create = new CreateTaskRequest { Id = id, Bundle = bundle };
            create.Rootfs.Add(new Moat.Protocols.Containerd.Types.Mount
            {
                Type = "overlay",
                Source = "overlay",
                Options = { "lowerdir=/nonexistent/lower", "upperdir=/nonexistent/upper", "workdir=/nonexistent/work" },
            });
            var e = await Assert.ThrowsAsync<TtrpcException>(() =>
                client.CallAsync("containerd.task.v2.Task", "Create", create, CreateTaskResponse.Parser, options));
            Assert.Equal(StatusCode.InvalidArgument, e.Code);
            Assert.Contains("rootfs", e.Message);

            var u = await Assert.ThrowsAsync<TtrpcException>(() =>
                client.CallAsync("containerd.task.v2.Task", "NoSuchMethod", new Empty(), Empty.Parser, options));
            Assert.Equal(StatusCode.Unimplemented, u.Code);

            // Still serving: an unknown task is NotFound, then the shim shuts down when asked.
            var s = await Assert.ThrowsAsync<TtrpcException>(() =>
                client.CallAsync("containerd.task.v2.Task", "State", new StateRequest { Id = "nope" }, StateResponse.Parser, options));
            Assert.Equal(StatusCode.NotFound, s.Code);
            await client.CallAsync("containerd.task.v2.Task", "Shutdown", new ShutdownRequest { Id = id }, Empty.Parser, options);
        }
        finally
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (File.Exists(socket) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            Assert.False(File.Exists(socket), "the shim did not exit on Shutdown");
            Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), l => l.Contains(bundle, StringComparison.Ordinal));
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task SigtermEndsAnIdleDaemonAndItsSocket()
    {
        var dir = Directory.CreateTempSubdirectory("moat-shim-term-").FullName;
        try
        {
            var id = "term-" + Guid.NewGuid().ToString("N")[..8];
            var start = await Cmd.RunAsync("sh", ["-c", $"cd '{dir}' && exec containerd-shim-moat-v2 -namespace moat-term -id {id} -address /dev/null -publish-binary /bin/true start"]);
            Assert.True(start.ExitCode == 0, start.ToString());
            var socket = start.Stdout.Trim()["unix://".Length..];
            Assert.True(File.Exists(socket), socket);
            var kill = await Cmd.RunAsync("pkill", ["-TERM", "-f", $"moat-term -id {id}.*__serve"]);
            Assert.True(kill.ExitCode == 0, kill.ToString());
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (File.Exists(socket) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            Assert.False(File.Exists(socket), "the shim daemon left its socket after SIGTERM");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
