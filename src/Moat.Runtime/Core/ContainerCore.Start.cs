using Moat.Oci;

namespace Moat.Runtime.Core;

public sealed partial class ContainerCore
{
    /// <summary>
    /// Starts a container's init or one of its execs, with its stdio relayed until it exits and
    /// its output is drained; then <see cref="ICoreEvents.Exited"/>.
    /// </summary>
    /// <param name="started">Told once the process runs, before anything of its end can be (a start event precedes the exit event).</param>
    public async Task<CoreProcess> StartAsync(string id, string execId, CancellationToken ct, Action<CoreProcess>? started = null)
    {
        var c = Get(id);
        var p = Process(c, execId);
        lock (p)
        {
            Require(ContainerOperation.Start, p, c.Paused);
            p.Started = true;
        }
        var guest = c.Sandbox.Guest;
        ProcessStreams? io = null;
        try
        {
            io = await settings.OpenIo(p.Io, ct).ConfigureAwait(false);
            var relay = new StdioRelay(guest, c.Id, p.ExecId);
            if (p.ExecId.Length == 0)
            {
                await guest.StartAsync(c.Id, ct).ConfigureAwait(false);
            }
            else
            {
                p.Pid = (uint)await guest.ExecAsync(c.Id, p.ExecId, p.ProcessJson, io.Stdin is not null, ct).ConfigureAwait(false);
                p.GuestExit = c.Sandbox.WaitAsync(c.Id, p.ExecId, CancellationToken.None);
            }
            started?.Invoke(p);
            _ = SuperviseAsync(c, p, relay, io);
            return p;
        }
        catch (AgentException e) when (p.ExecId.Length == 0 && e.Kind == RuntimeErrorKind.InvalidArgument)
        {
            // The workload could not be exec'd (no such file, not executable): its init is gone,
            // so the container is stopped now, as runc leaves it, and can be deleted by anyone who
            // waits for a stopped task (Docker, through containerd's runc shim).
            Dispose(io);
            p.SetExited(new ProcessEnd(ExecFailureStatus(e.Message), null));
            settings.Events.Exited(c, p);
            throw;
        }
        catch
        {
            Dispose(io);
            p.Started = false;
            throw;
        }
    }

    /// <summary>A shell's statuses for a command it could not run: 126 when it is not executable, 127 otherwise (not found).</summary>
    internal static int ExecFailureStatus(string reason) =>
        reason.Contains("Permission denied", StringComparison.Ordinal) ? 126 : 127;

    private static void Dispose(ProcessStreams? io)
    {
        foreach (var s in new[] { io?.Stdout, io?.Stderr, io?.Stdin })
        {
            s?.Dispose();
        }
    }

    /// <summary>Relays stdio until the process exits and its output is drained, then reports its exit.</summary>
    private async Task SuperviseAsync(CoreContainer c, CoreProcess p, StdioRelay relay, ProcessStreams io)
    {
        var ct = p.IoCancel.Token;
        var outTask = relay.PumpOutputAsync(false, io.Stdout ?? Stream.Null, ct);
        var errTask = relay.PumpOutputAsync(true, io.Stderr ?? Stream.Null, ct);
        if (io.Stdin is not null)
        {
            _ = relay.PumpInputAsync(io.Stdin, p.StdinCancel.Token);
        }
        var end = new ProcessEnd(255, null);
        try
        {
            end = await EndOfAsync(p).ConfigureAwait(false);
            // No output lost at exit: everything written reaches the caller before the exit is told.
            var drained = Task.WhenAll(outTask, errTask);
            if (await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false) != drained)
            {
                settings.Phases.Phase($"{Describe(c.Id, p.ExecId)}: output still open 10 s after exit (a background process holds it): not waiting longer");
            }
            // Output the guest could not give (its agent failed the read) is said, never dropped quietly.
            foreach (var (name, pump) in new[] { ("stdout", outTask), ("stderr", errTask) })
            {
                if (pump.IsFaulted)
                {
                    settings.Log($"{Describe(c.Id, p.ExecId)}: {name} cut short: reading it from the guest failed: {pump.Exception!.GetBaseException().Message}");
                }
            }
        }
        catch (Exception e)
        {
            settings.Log($"{Describe(c.Id, p.ExecId)}: {e.Message}");
        }
        finally
        {
            await p.IoCancel.CancelAsync().ConfigureAwait(false);
            Dispose(io);
        }
        p.SetExited(end);
        settings.Events.Exited(c, p);
    }

    /// <summary>How the process ended, by the sandbox's one rule; a wait the agent refuses counts as a kill (137), and is logged.</summary>
    private async Task<ProcessEnd> EndOfAsync(CoreProcess p)
    {
        try
        {
            var end = await p.GuestExit!.ConfigureAwait(false);
            if (end.VmDeath is { } what)
            {
                settings.Log($"{Describe(p.ContainerId, p.ExecId)}: the VM stopped while the process was running ({what})");
            }
            return end;
        }
        catch (AgentException e)
        {
            settings.Log($"{Describe(p.ContainerId, p.ExecId)}: wait: {e.Message}");
            return new ProcessEnd(RuntimeException.VmDeathStatus, null);
        }
    }

    /// <summary>Waits for the process to exit (and its output to be passed on).</summary>
    public async Task<CoreProcess> WaitAsync(string id, string execId, CancellationToken ct)
    {
        var p = Process(Get(id), execId);
        await p.Exited.WaitAsync(ct).ConfigureAwait(false);
        return p;
    }
}
