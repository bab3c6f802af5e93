using Moat.Protocols.Containerd;
using Moat.Ttrpc;

namespace Moat.Shim;

/// <summary>The per-sandbox daemon: serves the task API on its socket until containerd shuts it down.</summary>
internal static class ShimDaemon
{
    /// <summary>Write end of <c>start</c>'s readiness pipe.</summary>
    public const int ReadyFd = 3;

    /// <summary>
    /// A daemon given no task this long after it listens exits: whoever started it (containerd, or
    /// Moat's CLI while the create hooks run) died before its Create. As long as a relay waits for
    /// its go, that is for the hooks to end.
    /// </summary>
    public static readonly TimeSpan NeverUsed = TimeSpan.FromMinutes(5);

    public static async Task<int> RunAsync(ShimArgs a)
    {
        var socket = Environment.GetEnvironmentVariable("MOAT_SHIM_SOCKET") ?? ShimPaths.Socket(a.Namespace, a.Id);
        var log = new ShimLog(OpenLog(Environment.GetEnvironmentVariable("MOAT_SHIM_LOG") ?? Path.Combine(a.Bundle, "log")), a.Debug,
            [("id", a.Id), ("namespace", a.Namespace), ("runtime", "io.containerd.moat.v2"), ("pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        using var shutdown = new CancellationTokenSource();
        // SIGTERM (an operator's kill) ends the daemon as Shutdown does, so its socket goes too.
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            shutdown.Cancel();
        });
        var events = new EventPublisher(a.Namespace, Environment.GetEnvironmentVariable("TTRPC_ADDRESS"), log.Warn);
        var service = new TaskService(a, events, log, shutdown);
        // The server's own lines are about connections coming and going (a handler's failure is a status): debug.
        var server = new TtrpcServer(log.Debug, TaskService.StatusFor);
        TaskServiceBinder.Bind(server, service);
        MonitorServiceBinder.Bind(server, service.Sandboxes);
        try
        {
            Moat.Linux.Pipes.SetCloexec(ReadyFd, true);
            await server.ListenUnixAsync(socket, shutdown.Token, onListening: () =>
            {
                log.Info($"serving the task API on {socket}");
                Moat.Linux.Pipes.WriteAll(ReadyFd, [1]);
                Moat.Linux.Interop.Libc.close(ReadyFd);
                _ = ExitIfNeverUsedAsync(service, shutdown, log);
            });
            log.Info("shim shut down");
        }
        catch (Exception e)
        {
            log.Error($"serve {socket}: {e.Message}");
            return 1;
        }
        finally
        {
            await events.DrainAsync(TimeSpan.FromSeconds(2));
            File.Delete(socket);
            RemoveIfEmpty(ShimPaths.StateRoot(a.Namespace));
        }
        return 0;
    }

    private static async Task ExitIfNeverUsedAsync(TaskService service, CancellationTokenSource shutdown, ShimLog log)
    {
        try
        {
            await Task.Delay(NeverUsed, shutdown.Token).ConfigureAwait(false);
            if (service.NeverUsed)
            {
                log.Info($"no task was created in the {NeverUsed.TotalMinutes:0} minutes since the daemon started: exiting");
                shutdown.Cancel();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // the daemon is shutting down anyway
        }
    }

    /// <summary>The bundle's "log" FIFO, which containerd reads (Moat's CLI names a file instead); null when there is none.</summary>
    private static StreamWriter? OpenLog(string path)
    {
        try
        {
            return File.Exists(path) ? new StreamWriter(new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 0)) { AutoFlush = true } : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The namespace's state root goes with its last sandbox (the CLI derives one per --root).</summary>
    private static void RemoveIfEmpty(string dir)
    {
        try
        {
            if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
            {
                Directory.Delete(dir);
            }
        }
        catch (IOException)
        {
            // another shim of the namespace just created a sandbox there
        }
    }
}
