using Moat.Protocols.Containerd;
using Moat.Ttrpc;

namespace Moat.Shim;

/// <summary>The per-sandbox daemon: serves the task API on its socket until containerd shuts it down.</summary>
internal static class ShimDaemon
{
    /// <summary>Write end of <c>start</c>'s readiness pipe.</summary>
    public const int ReadyFd = 3;

    public static async Task<int> RunAsync(ShimArgs a)
    {
        var socket = Environment.GetEnvironmentVariable("MOAT_SHIM_SOCKET") ?? ShimPaths.Socket(a.Namespace, a.Id);
        var log = OpenLog(Environment.GetEnvironmentVariable("MOAT_SHIM_LOG") ?? Path.Combine(a.Bundle, "log"));
        using var shutdown = new CancellationTokenSource();
        // SIGTERM (an operator's kill) ends the daemon as Shutdown does, so its socket goes too.
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            shutdown.Cancel();
        });
        var events = new EventPublisher(a.Namespace, Environment.GetEnvironmentVariable("TTRPC_ADDRESS"), log);
        var service = new TaskService(a, events, log, shutdown);
        var server = new TtrpcServer(log, TaskService.StatusFor);
        TaskServiceBinder.Bind(server, service);
        MonitorServiceBinder.Bind(server, service.Sandboxes);
        try
        {
            Moat.Linux.Pipes.SetCloexec(ReadyFd, true);
            await server.ListenUnixAsync(socket, shutdown.Token, onListening: () =>
            {
                Moat.Linux.Pipes.WriteAll(ReadyFd, [1]);
                Moat.Linux.Interop.Libc.close(ReadyFd);
            });
        }
        catch (Exception e)
        {
            log($"serve {socket}: {e.Message}");
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

    /// <summary>The daemon logs to the bundle's "log" FIFO, which containerd reads (Moat's CLI names a file instead).</summary>
    private static Action<string> OpenLog(string path)
    {
        StreamWriter? writer = null;
        try
        {
            if (File.Exists(path))
            {
                writer = new StreamWriter(new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 0)) { AutoFlush = true };
            }
        }
        catch (IOException)
        {
        }
        return line =>
        {
            if (writer is null)
            {
                return;
            }
            lock (writer)
            {
                try
                {
                    writer.WriteLine($"time=\"{DateTime.UtcNow:O}\" level=info msg=\"{line.Replace("\"", "'", StringComparison.Ordinal)}\"");
                }
                catch (IOException)
                {
                }
            }
        };
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
