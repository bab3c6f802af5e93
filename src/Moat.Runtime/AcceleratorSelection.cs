using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>What the selection needs from the host: the KVM device, the verdict key, a canary boot.</summary>
public interface IAcceleratorHost
{
    /// <summary>Opens /dev/kvm and tries KVM_CREATE_VM (no guest runs).</summary>
    AccelProbeResult ProbeKvmDevice();

    /// <summary>The key of this host's verdicts (<see cref="AcceleratorVerdicts.Key"/>).</summary>
    string VerdictKey();

    /// <summary>Boots the installed guest under <paramref name="accel"/> until its agent answers, within <paramref name="timeout"/>.</summary>
    Task<CanaryOutcome> RunCanaryAsync(Accel accel, TimeSpan timeout, CancellationToken ct);
}

/// <summary>What one canary boot showed.</summary>
public sealed record CanaryOutcome(bool Works, string Reason, long Milliseconds);

/// <summary>The accelerator a VM start uses, and why.</summary>
/// <param name="Accel">KVM or TCG.</param>
/// <param name="Reason">One line: why this one.</param>
/// <param name="Choice">What the configuration asked for.</param>
/// <param name="Key">The verdict key, when a canary verdict decided it.</param>
public sealed record AcceleratorDecision(Accel Accel, string Reason, AcceleratorChoice Choice, string? Key)
{
    /// <summary>A KVM start that faults may be retried under TCG (the configuration said "auto").</summary>
    public bool MayFallBack => Choice == AcceleratorChoice.Auto && Accel == Accel.Kvm;
}

/// <summary>
/// Picks the accelerator. <c>tcg</c> is TCG. <c>kvm</c> and <c>auto</c> trust KVM only once a canary
/// has booted this very guest under it: a KVM that opens and creates VMs may still be unable to run
/// the guest (a nested KVM without hardware virtualization stops it with "KVM internal error", or
/// hangs it). The verdict is computed at most once per key: concurrent first starts wait on one
/// canary (a file lock), later starts read the file. Where KVM fails, <c>auto</c> takes TCG and
/// <c>kvm</c> fails fast with the reason.
/// </summary>
public sealed class AcceleratorSelection
{
    /// <summary>How long a KVM canary may take to reach the agent (a working KVM needs well under a second).</summary>
    public static readonly TimeSpan KvmCanaryTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a TCG canary (<c>moat check</c>) may take: a software boot takes seconds.</summary>
    public static readonly TimeSpan TcgCanaryTimeout = TimeSpan.FromSeconds(60);

    private readonly AcceleratorChoice _choice;
    private readonly AcceleratorVerdicts _verdicts;
    private readonly IAcceleratorHost _host;
    private readonly PhaseLog _log;

    public AcceleratorSelection(AcceleratorChoice choice, AcceleratorVerdicts verdicts, IAcceleratorHost host, PhaseLog log)
    {
        _choice = choice;
        _verdicts = verdicts;
        _host = host;
        _log = log;
    }

    public async Task<AcceleratorDecision> DecideAsync(CancellationToken ct)
    {
        if (_choice == AcceleratorChoice.Tcg)
        {
            return new AcceleratorDecision(Accel.Tcg, "hypervisor.accelerator = \"tcg\"", _choice, null);
        }
        var probe = _host.ProbeKvmDevice();
        if (probe.Accel != Accel.Kvm)
        {
            return _choice == AcceleratorChoice.Kvm
                ? throw new RuntimeException(RuntimeErrorKind.MissingDependency,
                    $"hypervisor.accelerator is \"kvm\" but {probe.Reason}: load the kvm module, or set accelerator = \"auto\" or \"tcg\"")
                : new AcceleratorDecision(Accel.Tcg, probe.Reason, _choice, null);
        }
        var key = _host.VerdictKey();
        var verdict = await VerdictAsync(Accel.Kvm, key, ct).ConfigureAwait(false);
        if (verdict.Works)
        {
            return new AcceleratorDecision(Accel.Kvm, "KVM ran this guest (" + verdict.Reason + ")", _choice, key);
        }
        return _choice == AcceleratorChoice.Kvm
            ? throw new RuntimeException(RuntimeErrorKind.GuestFailure,
                $"hypervisor.accelerator is \"kvm\" but KVM cannot run the guest on this host: {verdict.Reason}; set accelerator = \"auto\" or \"tcg\" to use software emulation")
            : new AcceleratorDecision(Accel.Tcg, "KVM cannot run the guest here: " + verdict.Reason, _choice, key);
    }

    /// <summary>The verdict on <paramref name="accel"/> for this host: the cached one, or a canary's (run once for everyone waiting).</summary>
    public async Task<AcceleratorVerdict> VerdictAsync(Accel accel, string key, CancellationToken ct)
    {
        if (_verdicts.Read(accel, key) is { } cached)
        {
            return cached;
        }
        var timeout = accel == Accel.Kvm ? KvmCanaryTimeout : TcgCanaryTimeout;
        FileStream? held = null;
        try
        {
            held = await _verdicts.LockAsync(key + "." + accel.ToString().ToLowerInvariant(), timeout * 2 + TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Phase($"accelerator verdicts: {e.Message}: running the canary without them");
        }
        try
        {
            if (_verdicts.Read(accel, key) is { } made)
            {
                return made; // another process ran it while this one waited
            }
            var name = accel.ToString().ToUpperInvariant();
            _log.Phase($"{name} canary: booting the guest under {name} (at most {timeout.TotalSeconds:F0} s, once per host boot)");
            var outcome = await _host.RunCanaryAsync(accel, timeout, ct).ConfigureAwait(false);
            var verdict = new AcceleratorVerdict(accel.ToString().ToLowerInvariant(), outcome.Works, outcome.Reason, DateTime.UtcNow, outcome.Milliseconds, "canary");
            TryWrite(accel, key, verdict);
            _log.Phase(outcome.Works
                ? $"{name} canary passed in {outcome.Milliseconds} ms"
                : $"{name} canary failed after {outcome.Milliseconds} ms: {outcome.Reason}{(accel == Accel.Kvm && _choice == AcceleratorChoice.Auto ? "; using TCG" : "")}");
            return verdict;
        }
        finally
        {
            if (held is not null)
            {
                await held.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>A real start under KVM faulted: later starts (and <c>moat check</c>) use TCG.</summary>
    public void ReportKvmFault(AcceleratorDecision decision, string reason, long milliseconds)
    {
        if (decision.Key is { } key)
        {
            TryWrite(Accel.Kvm, key, new AcceleratorVerdict("kvm", false, reason, DateTime.UtcNow, milliseconds, "start"));
        }
        _log.Phase($"KVM faulted during this start: {reason}; marked unusable, retrying under TCG");
    }

    /// <summary>A VM booted under <paramref name="accel"/>: recorded once, so <c>moat check</c> need not boot one.</summary>
    public void ReportBooted(Accel accel, long milliseconds)
    {
        var key = _host.VerdictKey();
        if (_verdicts.Read(accel, key) is null)
        {
            TryWrite(accel, key, new AcceleratorVerdict(accel.ToString().ToLowerInvariant(), true,
                $"a VM start reached the agent in {milliseconds} ms", DateTime.UtcNow, milliseconds, "start"));
        }
    }

    private void TryWrite(Accel accel, string key, AcceleratorVerdict verdict)
    {
        try
        {
            _verdicts.Write(accel, key, verdict);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Phase($"accelerator verdicts: cannot record the {verdict.Accelerator} verdict: {e.Message}");
        }
    }
}
