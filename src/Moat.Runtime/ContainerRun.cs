using Moat.Oci;

namespace Moat.Runtime;

/// <summary>
/// <c>moat run</c>: validate the bundle, boot a VM, run the container's process with stdio
/// relayed, forward signals, return its exit status (128 + n for signal n), tear everything down.
/// </summary>
public sealed class ContainerRun
{
    private readonly RuntimeOptions _options;
    private readonly PhaseLog _log;

    public ContainerRun(RuntimeOptions options, PhaseLog log)
    {
        _options = options;
        _log = log;
    }

    public async Task<int> RunAsync(string id, string bundleDir, Stream stdin, Stream stdout, Stream stderr, CancellationToken ct)
    {
        ContainerId.Validate(id);
        var bundle = Path.GetFullPath(bundleDir);
        var spec = SpecLoader.LoadBundle(bundle);
        var validation = SpecValidator.Validate(spec);
        validation.ThrowIfInvalid(Path.Combine(bundle, SpecLoader.ConfigFileName));
        if (spec.Process is null)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{Path.Combine(bundle, "config.json")}: process: missing; 'run' needs a process to start");
        }
        foreach (var w in validation.Warnings)
        {
            _log.Phase($"warning: {w}");
        }
        var (guestSpec, binds) = SharePlan.ForContainer(id, bundle, spec);
        StateDir.SweepStale(_options.StateRoot, _options.NodeDir);
        _log.Phase("config validated");

        var sandbox = await Sandbox.StartAsync(id, _options, binds, _log, ct, first: ContainerLimits.Of(spec)).ConfigureAwait(false);
        var failed = true;
        RuntimeException? died = null;
        string? kept = null;
        try
        {
            var status = await RunInSandboxAsync(sandbox, id, bundle, guestSpec, stdin, stdout, stderr, ct).ConfigureAwait(false);
            failed = false;
            return status;
        }
        catch (RuntimeException e) when (e.ExitStatus is not null)
        {
            died = e;
        }
        finally
        {
            kept = await sandbox.TearDownAsync(keepLog: failed || _options.Debug).ConfigureAwait(false);
            if (kept is not null)
            {
                _log.Phase($"console log kept at {kept}");
            }
        }
        // The VM died: the same answer as through the shim (exit 137), with what happened and where the console went.
        throw new RuntimeException(died.Kind, died.Message + (kept is null ? "" : $"; console log: {kept}"), died.InnerException) { ExitStatus = died.ExitStatus };
    }

    private async Task<int> RunInSandboxAsync(Sandbox sandbox, string id, string bundle, Spec guestSpec, Stream stdin, Stream stdout, Stream stderr, CancellationToken ct)
    {
        var guest = sandbox.Guest;
        try
        {
            await sandbox.CreateContainerAsync(id, guestSpec, stdin: true, ct, bundle).ConfigureAwait(false);
        }
        catch (AgentException e)
        {
            throw e.About(id);
        }
        _log.Phase("container created");

        var terminal = guestSpec.Process!.Terminal;
        using var raw = terminal ? Moat.Linux.Terminal.MakeRaw(0) : null;
        using var resizer = terminal ? new WindowSizeRelay(guest, id, "") : null;
        var relay = new StdioRelay(guest, id, "");
        using var pumpCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var outTask = relay.PumpOutputAsync(false, stdout, pumpCts.Token);
        var errTask = relay.PumpOutputAsync(true, stderr, pumpCts.Token);
        int pid;
        try
        {
            pid = await guest.StartAsync(id, ct).ConfigureAwait(false);
        }
        catch (AgentException e)
        {
            throw e.About(id);
        }
        _log.Phase($"container started (guest pid {pid})");
        resizer?.Send();
        _ = relay.PumpInputAsync(stdin, pumpCts.Token);

        ProcessEnd end;
        using (ForwardSignals(guest, id))
        {
            end = await sandbox.WaitAsync(id, "", ct).ConfigureAwait(false);
        }
        if (end.VmDeath is { } what)
        {
            throw RuntimeException.VmDied(id, what);
        }
        _log.Phase($"container exited with status {end.Status}");
        // Everything the process wrote reaches our stdout/stderr before we return.
        var drained = Task.WhenAll(outTask, errTask);
        if (await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(10), ct)).ConfigureAwait(false) != drained)
        {
            _log.Phase("output still open 10 s after exit (a background process holds it): not waiting longer");
        }
        await pumpCts.CancelAsync().ConfigureAwait(false);
        return end.Status;
    }

    /// <summary>Like runc run: SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to us go to the container's process.</summary>
    private static Moat.Linux.ForwardedSignals ForwardSignals(IGuestAgent guest, string id) =>
        new(Moat.Linux.ForwardedSignals.Default, sig => _ = guest.SignalAsync(id, "", (uint)sig, all: false, CancellationToken.None));
}
