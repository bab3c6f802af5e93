namespace Moat.Hypervisor;

/// <summary>
/// A virtual machine monitor running one guest VM: what a sandbox needs of it. QEMU is
/// Moat.Runtime's <c>QemuHypervisor</c>; tests drive sandboxes through a fake.
/// </summary>
public interface IHypervisor : IAsyncDisposable
{
    /// <summary>Launches the VMM and connects its control channel. A VM restored from <see cref="VmConfig.IncomingStatePath"/> stays paused until <see cref="ResumeAsync"/>.</summary>
    Task StartAsync(VmConfig config, CancellationToken ct);

    /// <summary>Process id of the VMM (the host process that stands for the VM).</summary>
    int Pid { get; }

    /// <summary>Completes when the VMM exits, for whatever reason.</summary>
    Task ExitTask { get; }

    /// <summary>Completes when the VM can no longer run its guest (stopped on an error, guest panic or shutdown, VMM exit); never while it is healthy.</summary>
    Task<VmFault> Fault { get; }

    /// <summary>One line for <paramref name="fault"/>: what happened and what the VMM said, and where the console log went when given.</summary>
    string Describe(VmFault fault, string? consoleLog = null);

    Task ResumeAsync(CancellationToken ct);

    /// <summary>Adds <paramref name="sizeMiB"/> of guest memory as DIMM <paramref name="id"/>.</summary>
    Task HotplugMemoryAsync(string id, int sizeMiB, CancellationToken ct);

    /// <summary>Adds up to <paramref name="count"/> vCPUs; how many were added.</summary>
    Task<int> HotplugCpusAsync(int count, CancellationToken ct);

    /// <summary>Shares a container's files with the running guest (under the VM's shared directory); an <see cref="IOException"/> when one cannot be.</summary>
    void Share(string containerId, IReadOnlyList<ShareBind> binds);

    /// <summary>Stops sharing what <see cref="Share"/> shared for the container.</summary>
    void Unshare(string containerId);

    /// <summary>The guest console's output so far (for the log a failed or debug sandbox keeps).</summary>
    Task<string> CollectLogAsync(CancellationToken ct);
}
