using Moat.Oci;
using Moat.Runtime.Core;

namespace Moat.Runtime;

/// <summary>
/// Foreground <c>moat run</c>, a front door of the container core like the shim's task service:
/// validate the bundle, create and start the container in a VM of its own with the caller's
/// stdio, forward signals, wait, delete; the exit status is the process's (128 + n for signal n),
/// or 137 with one line saying what happened when the VM died under it.
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

    /// <param name="spec">The bundle's config.json, when the caller has read it already; validated by the core.</param>
    public async Task<int> RunAsync(string id, string bundleDir, Stream stdin, Stream stdout, Stream stderr, CancellationToken ct, Spec? spec = null)
    {
        ContainerId.Validate(id);
        var bundle = Path.GetFullPath(bundleDir);
        spec ??= SpecLoader.LoadBundle(bundle);
        if (spec.Process is null)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{Path.Combine(bundle, "config.json")}: process: missing; 'run' needs a process to start");
        }
        _log.Phase("config read");

        // The caller's own stdio, as it is: no FIFOs to open.
        var streams = new ProcessStreams(stdin, stdout, stderr);
        var core = new ContainerCore(new CoreSettings(_log.Phase, _log, NoEvents.Instance, (_, _) => Task.FromResult(streams), KeepLogs: _options.Debug));
        var terminal = spec.Process.Terminal;
        CoreContainer container;
        try
        {
            container = await core.CreateAsync(new CreateRequest(id, bundle, spec, new ProcessIo(CallerStdio, CallerStdio, CallerStdio, terminal),
                () => _options, NetworkNamespace: null), ct).ConfigureAwait(false);
        }
        catch (AgentException e)
        {
            throw e.About(id);
        }
        _log.Phase("container created");

        CoreProcess? ended = null;
        try
        {
            using var raw = terminal ? Moat.Linux.Terminal.MakeRaw(0) : null;
            using var resizer = terminal ? new WindowSizeRelay(container.Sandbox.Guest, id, "") : null;
            try
            {
                await core.StartAsync(id, "", ct).ConfigureAwait(false);
            }
            catch (AgentException e)
            {
                throw e.About(id);
            }
            _log.Phase("container started");
            resizer?.Send();
            // Like runc run: SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to us go to the container's process.
            using (new Moat.Linux.ForwardedSignals(Moat.Linux.ForwardedSignals.Default, sig => _ = core.KillAsync(id, "", (uint)sig, all: false, CancellationToken.None)))
            {
                ended = await core.WaitAsync(id, "", ct).ConfigureAwait(false);
            }
            _log.Phase($"container exited with status {ended.ExitStatus}");
        }
        finally
        {
            // Forced: a run interrupted or failed before its process ended takes its VM with it.
            var kept = (await core.DeleteAsync(id, "", keepLog: ended is null || ended.VmDeath is not null, force: true).ConfigureAwait(false)).ConsoleLog;
            if (kept is not null)
            {
                _log.Phase($"console log kept at {kept}");
            }
            if (ended?.VmDeath is { } what)
            {
                // The same answer as through the shim (exit 137), with what happened and where the console went.
                throw RuntimeException.VmDied(id, what + (kept is null ? "" : $"; console log: {kept}"));
            }
        }
        return (int)ended.ExitStatus;
    }

    /// <summary>How a process's stdio is named when it is the caller's own streams.</summary>
    private const string CallerStdio = "-";

    /// <summary>Nothing to tell: the caller waits for the one process itself.</summary>
    private sealed class NoEvents : ICoreEvents
    {
        public static readonly NoEvents Instance = new();

        public void Exited(CoreContainer container, CoreProcess process)
        {
        }

        public void OomKilled(string containerId)
        {
        }
    }
}
