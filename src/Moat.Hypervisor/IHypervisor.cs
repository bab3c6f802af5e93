namespace Moat.Hypervisor;

/// <summary>A virtual machine monitor running one guest VM (QEMU: Moat.Runtime's QemuHypervisor).</summary>
public interface IHypervisor : IAsyncDisposable
{
    /// <summary>Launches the VMM and connects QMP. A VM restored from <see cref="VmConfig.IncomingStatePath"/> stays paused until <see cref="ResumeAsync"/>.</summary>
    Task StartAsync(VmConfig config, CancellationToken ct);

    /// <summary>Process id of the VMM.</summary>
    int Pid { get; }

    Task ResumeAsync(CancellationToken ct);
}
