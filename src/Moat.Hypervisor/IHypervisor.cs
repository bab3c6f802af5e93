namespace Moat.Hypervisor;

/// <summary>A virtual machine monitor running one guest VM. Implemented later by the QEMU launcher.</summary>
public interface IHypervisor : IAsyncDisposable
{
    /// <summary>Launches the VMM and connects QMP. A VM restored from <see cref="VmConfig.IncomingStatePath"/> stays paused until <see cref="ResumeAsync"/>.</summary>
    Task StartAsync(VmConfig config, CancellationToken ct);

    /// <summary>Process id of the VMM.</summary>
    int Pid { get; }

    /// <summary>Completes with the VMM process exit code.</summary>
    Task<int> WaitForExitAsync(CancellationToken ct);

    Task PauseAsync(CancellationToken ct);

    Task ResumeAsync(CancellationToken ct);

    /// <summary>Quits via QMP, then SIGKILLs the VMM if it is still alive after <paramref name="grace"/>.</summary>
    Task StopAsync(TimeSpan grace, CancellationToken ct);

    HypervisorCapabilities Capabilities { get; }
}
