using System.CommandLine;
using Moat.Cli.Runc;
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
            catch (RuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound)
            {
                // What a foreground run killed with SIGKILL leaves (its VM went with it): the
                // state of a sandbox whose owner is gone. Deleting that id removes it.
                if (CliStore.RemoveDeadLeftovers(root, containerId) || r.GetValue(force))
                {
                    return 0;
                }
                throw;
            }
            catch (CorruptRecordException e) when (r.GetValue(force))
            {
                ErrorReporter.Warn($"removing {CliStore.Dir(root, containerId)}: {e.Message.Split(": moat delete")[0]}");
                CliStore.RemoveCorrupt(root, containerId);
                return 0;
            }
            await DeleteAsync(root, rec, r.GetValue(force), ct);
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// Deletes the container and returns only once its shim daemon (and with it the VM, the mounts
    /// and the sockets) is gone, so the id can be used again at once (runc's guarantee); a pod
    /// member's daemon goes on serving the rest of its pod. The record goes last: while anything
    /// of the container may still run, it stays findable.
    /// </summary>
    public static async Task DeleteAsync(string root, CliRecord rec, bool force, CancellationToken ct)
    {
        var status = await ShimConnection.StatusAsync(rec, ct);
        ContainerTransitions.Check(force ? ContainerOperation.ForceDelete : ContainerOperation.Delete, status, $"container {rec.Id}");
        if (await ConnectOrGoneAsync(rec, ct) is { } client)
        {
            await using (client)
            {
                string? daemon = null;
                try
                {
                    daemon = ProcessIdentity.Of((int)(await client.ConnectShimAsync(rec.Id, ct)).ShimPid);
                    if (status is ContainerStatus.Running or ContainerStatus.Paused)
                    {
                        await client.KillAsync(rec.Id, "", Signals.SIGKILL, all: true, ct);
                        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                        wait.CancelAfter(TimeSpan.FromSeconds(10));
                        await client.WaitAsync(rec.Id, "", wait.Token);
                    }
                    await client.DeleteAsync(rec.Id, "", ct);
                }
                catch (TtrpcException e) when (e.Code == StatusCode.NotFound)
                {
                    // the shim no longer knows the container (deleted by an earlier, interrupted delete)
                }
                catch (TtrpcException e)
                {
                    throw ShimConnection.Translate(e, rec.Id);
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
                {
                    // the daemon went away mid-call: it took the VM with it (the VM dies with its daemon)
                }
                try
                {
                    await client.ShutdownAsync(rec.Id, ct);
                }
                catch (Exception e) when (e is TtrpcException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
                {
                }
                // A daemon that serves other containers of the pod (created through containerd's
                // runc shim in their sandbox's VM) stays for them: there is nothing to wait for.
                var shared = CliStore.All(root).Any(r => r.Id != rec.Id && r.ShimSocket == rec.ShimSocket);
                if (daemon is not null && !shared && !await ShimConnection.WaitGoneAsync(daemon, ShimConnection.DaemonExit, ct))
                {
                    throw new RuntimeException(RuntimeErrorKind.Timeout,
                        $"container {rec.Id}: its shim daemon (pid {daemon.Split(' ')[0]}) did not exit within {ShimConnection.DaemonExit.TotalSeconds:0} s of the delete: run moat delete --force {rec.Id} again");
                }
            }
        }
        else
        {
            // The daemon is gone without its clean-up (SIGKILL, a crash): do what containerd does for a dead shim.
            await ShimConnection.CleanUpAfterDaemonAsync(rec, ct);
        }
        await RelayProcess.StopAsync(rec.Pid, ct);
        // A daemon that died could not remove the host cgroup its relay was in; with the relay gone it can go.
        try
        {
            HostCgroup.RemoveLeft(Lifecycle.SpecOf(rec)?.Linux?.CgroupsPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or RuntimeException)
        {
        }
        await Lifecycle.WarnOnFailureAsync(() => HookRunner.RunAsync("poststop", Lifecycle.SpecOf(rec)?.Hooks?.Poststop, Lifecycle.StateOf(rec, ContainerStatus.Stopped), ct));
        Directory.Delete(CliStore.Dir(root, rec.Id), recursive: true);
    }

    /// <summary>
    /// A client of the container's shim daemon, or null when there is none to talk to: no socket,
    /// or nobody listening on it. A daemon that is busy (a full backlog) is retried, not given up on.
    /// </summary>
    private static async Task<Moat.Protocols.Containerd.TaskClient?> ConnectOrGoneAsync(CliRecord rec, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            if (!File.Exists(rec.ShimSocket))
            {
                return null;
            }
            try
            {
                return await ShimConnection.ConnectAsync(rec, ct);
            }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode is System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.AddressNotAvailable)
            {
                return null; // a socket file nobody serves: the daemon died
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, ct);
            }
        }
    }
}
