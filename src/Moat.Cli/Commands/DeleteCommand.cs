using System.CommandLine;
using Moat.Cli.Oci;
using Moat.Linux;
using Moat.Oci;
using Moat.Runtime;
using Moat.Ttrpc;

namespace Moat.Cli.Commands;

/// <summary><c>moat delete [--force] ID</c>: remove a stopped (or, with --force, any) container and its VM.</summary>
internal static class DeleteCommand
{
    public static Command Create()
    {
        var force = new Option<bool>("--force", "-f") { Description = "kill the container first if it is still running" };
        var id = new Argument<string>("container-id");
        var cmd = new Command("delete", "delete a container and everything Moat holds for it") { force, id };
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var root = r.GetValue(GlobalOptions.Root)!;
            var containerId = r.GetValue(id)!;
            CliRecord rec;
            try
            {
                rec = CliStore.Read(root, containerId);
            }
            catch (RuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound && r.GetValue(force))
            {
                return 0;
            }
            await DeleteAsync(root, rec, r.GetValue(force), ct);
            return 0;
        }));
        return cmd;
    }

    public static async Task DeleteAsync(string root, CliRecord rec, bool force, CancellationToken ct)
    {
        var status = await ShimConnection.StatusAsync(rec, ct);
        if (status is ContainerStatus.Running or ContainerStatus.Paused && !force)
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"cannot delete container {rec.Id} that is not stopped: {status.ToString().ToLowerInvariant()}: stop it first or pass --force");
        }
        if (status != ContainerStatus.Stopped || File.Exists(rec.ShimSocket))
        {
            try
            {
                await using var client = await ShimConnection.ConnectAsync(rec, ct);
                if (status is ContainerStatus.Running or ContainerStatus.Paused)
                {
                    await client.KillAsync(rec.Id, "", Signals.SIGKILL, all: true, ct);
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    wait.CancelAfter(TimeSpan.FromSeconds(10));
                    await client.WaitAsync(rec.Id, "", wait.Token);
                }
                await client.DeleteAsync(rec.Id, "", ct);
                await client.ShutdownAsync(rec.Id, ct);
            }
            catch (Exception e) when (e is TtrpcException { Code: StatusCode.NotFound or StatusCode.Unavailable } or IOException or System.Net.Sockets.SocketException)
            {
                // the shim no longer knows the container, or is gone: only our own state remains
            }
        }
        StopRelay(rec.Pid);
        await Lifecycle.WarnOnFailureAsync(() => HookRunner.RunAsync("poststop", Lifecycle.SpecOf(rec)?.Hooks?.Poststop, Lifecycle.StateOf(rec, ContainerStatus.Stopped), ct));
        Directory.Delete(CliStore.Dir(root, rec.Id), recursive: true);
    }

    /// <summary>The relay exits by itself once the shim reports the exit; one whose shim died is killed.</summary>
    private static void StopRelay(int pid)
    {
        for (var i = 0; i < 50 && IsRelay(pid); i++)
        {
            Thread.Sleep(20);
        }
        if (IsRelay(pid))
        {
            Moat.Linux.Interop.Libc.kill(pid, Signals.SIGKILL);
        }
    }

    private static bool IsRelay(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return !stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z') && File.ReadAllText($"/proc/{pid}/cmdline").Contains(Relay.Verb, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
