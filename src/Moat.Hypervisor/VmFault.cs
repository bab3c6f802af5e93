namespace Moat.Hypervisor;

/// <summary>How a VM failed before or while its guest ran.</summary>
public enum VmFaultKind
{
    /// <summary>QEMU stopped the VM on an accelerator error (<c>internal-error</c>: "KVM internal error ...").</summary>
    InternalError,

    /// <summary>The guest kernel panicked (pvpanic, or <c>guest-panicked</c>).</summary>
    GuestPanicked,

    /// <summary>The guest shut down or reset on its own.</summary>
    Shutdown,

    /// <summary>QEMU exited.</summary>
    Exited,

    /// <summary>The guest ran but its agent did not answer in time.</summary>
    AgentTimeout,
}

/// <summary>A VM fault: what happened, in one line, with QEMU's own words where it said any.</summary>
/// <param name="Kind">What kind of fault.</param>
/// <param name="Detail">One line: the QMP status or event and its reason.</param>
public sealed record VmFault(VmFaultKind Kind, string Detail)
{
    /// <summary>The QMP run states that mean the guest cannot go on.</summary>
    public static VmFault? FromStatus(string status) => status switch
    {
        "internal-error" => new(VmFaultKind.InternalError, "QEMU stopped the VM with an internal error (status internal-error)"),
        "guest-panicked" => new(VmFaultKind.GuestPanicked, "the guest kernel panicked (status guest-panicked)"),
        "shutdown" => new(VmFaultKind.Shutdown, "the guest shut down (status shutdown)"),
        "io-error" => new(VmFaultKind.InternalError, "QEMU stopped the VM on an I/O error (status io-error)"),
        _ => null,
    };
}
