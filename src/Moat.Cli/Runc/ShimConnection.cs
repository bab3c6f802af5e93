using System.Diagnostics;
using Process = System.Diagnostics.Process;
using Moat.Oci;
using Moat.Protocols.Containerd;
using Moat.Runtime;
using Moat.Ttrpc;
using ContainerdStatus = Moat.Protocols.Containerd.Types.Status;

namespace Moat.Cli.Runc;

/// <summary>
/// The CLI side of the per-sandbox shim daemon: starts it as containerd would (<c>start</c>,
/// which reuses the daemon of the container's group) and asks it the container's state.
/// </summary>
internal static class ShimConnection
{
    public const string ShimBinary = "containerd-shim-moat-v2";

    /// <summary>How long the shim's <c>start</c> gets to have its daemon listening.</summary>
    public static readonly TimeSpan DaemonStart = TimeSpan.FromSeconds(30);

    /// <summary>How long a shim daemon gets to tear its VM down and exit once told to.</summary>
    public static readonly TimeSpan DaemonExit = TimeSpan.FromSeconds(20);

    /// <summary>Runs the shim's <c>start</c> verb and returns the socket it prints (within <see cref="DaemonStart"/>).</summary>
    public static async Task<string> StartDaemonAsync(string ns, string id, string bundle, string log, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(FindShim())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = bundle,
        };
        foreach (var a in new[] { "-namespace", ns, "-id", id, "-address", "", "-publish-binary", "", "-bundle", bundle, "start" })
        {
            psi.ArgumentList.Add(a);
        }
        // Events go nowhere: a caller's containerd (runc shim → moat) must not hear of our tasks.
        psi.Environment.Remove("TTRPC_ADDRESS");
        psi.Environment["MOAT_SHIM_LOG"] = log;
        using var p = Process.Start(psi) ?? throw new RuntimeException(RuntimeErrorKind.MissingDependency, $"cannot start {psi.FileName}");
        p.StandardInput.Close();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(DaemonStart);
        var stdout = p.StandardOutput.ReadToEndAsync(limit.Token);
        var stderr = p.StandardError.ReadToEndAsync(limit.Token);
        try
        {
            await p.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // A daemon that comes up later exits by itself, never having been given a task.
            p.Kill();
            throw new RuntimeException(RuntimeErrorKind.Timeout, $"the shim daemon for {id} was not listening within {DaemonStart.TotalSeconds:0} s");
        }
        var address = (await stdout.ConfigureAwait(false)).Trim();
        if (p.ExitCode != 0 || !address.StartsWith("unix://", StringComparison.Ordinal))
        {
            throw new RuntimeException(RuntimeErrorKind.Internal, $"the shim daemon for {id} did not start: {(await stderr.ConfigureAwait(false)).Trim()}");
        }
        return address["unix://".Length..];
    }

    /// <summary>
    /// Stops the daemon started for a container whose create failed before anything recorded it:
    /// a task its relay created before it died is deleted, then the daemon is shut down (it stays
    /// if it serves others) and, when it was the container's own (<paramref name="own"/>: no group
    /// shares it), waited for. Throws only what it cannot tell apart from a bug.
    /// </summary>
    public static async Task StopStartedDaemonAsync(Task<string> daemon, string ns, string id, bool own)
    {
        using var deadline = new CancellationTokenSource(DaemonExit);
        try
        {
            var socket = await daemon.WaitAsync(deadline.Token).ConfigureAwait(false);
            await using var client = await TaskClient.ConnectAsync(socket, ns, deadline.Token).ConfigureAwait(false);
            var pid = ProcessIdentity.Of((int)(await client.ConnectShimAsync(id, deadline.Token).ConfigureAwait(false)).ShimPid);
            try
            {
                await client.DeleteAsync(id, "", deadline.Token).ConfigureAwait(false);
            }
            catch (TtrpcException)
            {
                // no task (the usual case), or one the delete refuses: shutdown then leaves the daemon to it
            }
            await client.ShutdownAsync(id, deadline.Token).ConfigureAwait(false);
            if (pid is not null && own)
            {
                await WaitGoneAsync(pid, DaemonExit, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is RuntimeException or TtrpcException or IOException or System.Net.Sockets.SocketException
            or ObjectDisposedException or OperationCanceledException or InvalidDataException or UnauthorizedAccessException)
        {
            // no daemon, or none that answers: one that never gets a task exits by itself
        }
    }

    /// <summary>Waits until the process <paramref name="token"/> names (<see cref="ProcessIdentity"/>) is gone; false after <paramref name="timeout"/>.</summary>
    public static async Task<bool> WaitGoneAsync(string token, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (ProcessIdentity.IsAlive(token))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            await Task.Delay(20, ct).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>
    /// Cleans up after a shim daemon that died (killed, crashed): the shim binary's own
    /// <c>delete</c>, as containerd runs it for a dead shim, removes its sandbox state, any rootfs
    /// mount and its socket, and sweeps what other dead daemons of the namespace left.
    /// </summary>
    public static async Task CleanUpAfterDaemonAsync(CliRecord r, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(FindShim())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = r.Bundle,
        };
        foreach (var a in new[] { "-namespace", r.Namespace, "-id", r.Id, "-address", "", "-publish-binary", "", "-bundle", r.Bundle, "delete" })
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi) ?? throw new RuntimeException(RuntimeErrorKind.MissingDependency, $"cannot start {psi.FileName}");
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync(ct);
        _ = p.StandardOutput.BaseStream.CopyToAsync(Stream.Null, ct); // its DeleteResponse: nothing to read in it here
        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        if (p.ExitCode != 0)
        {
            throw new RuntimeException(RuntimeErrorKind.Internal, $"container {r.Id}: cleaning up after its dead shim daemon failed: {(await stderr.ConfigureAwait(false)).Trim()}");
        }
    }

    private static string FindShim()
    {
        var beside = Path.Combine(Path.GetDirectoryName(Environment.ProcessPath) ?? "", ShimBinary);
        if (File.Exists(beside))
        {
            return beside;
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin").Split(':'))
        {
            var candidate = Path.Combine(dir, ShimBinary);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new RuntimeException(RuntimeErrorKind.MissingDependency, $"{ShimBinary} is not installed next to moat or on PATH: run scripts/setup.sh");
    }

    public static Task<TaskClient> ConnectAsync(CliRecord r, CancellationToken ct) => TaskClient.ConnectAsync(r.ShimSocket, r.Namespace, ct);

    /// <summary>The container's status from its shim; stopped once the shim is gone.</summary>
    public static async Task<ContainerStatus> StatusAsync(CliRecord r, CancellationToken ct)
    {
        if (!File.Exists(r.ShimSocket))
        {
            return ContainerStatus.Stopped;
        }
        try
        {
            await using var client = await ConnectAsync(r, ct).ConfigureAwait(false);
            var s = await client.StateAsync(r.Id, "", ct).ConfigureAwait(false);
            return s.Status switch
            {
                ContainerdStatus.Created => ContainerStatus.Created,
                ContainerdStatus.Running => ContainerStatus.Running,
                ContainerdStatus.Paused or ContainerdStatus.Pausing => ContainerStatus.Paused,
                _ => ContainerStatus.Stopped,
            };
        }
        catch (Exception e) when (e is TtrpcException or IOException or System.Net.Sockets.SocketException)
        {
            return ContainerStatus.Stopped;
        }
    }

    /// <summary>One place where shim statuses become the CLI's typed errors (runc's wording where callers match it).</summary>
    public static RuntimeException Translate(TtrpcException e, string id) =>
        new(ErrorStatus.KindOf(e.Code), e.Message.Contains(id, StringComparison.Ordinal) ? e.Message : $"container {id}: {e.Message}", e);
}
