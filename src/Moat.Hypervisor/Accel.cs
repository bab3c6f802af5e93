namespace Moat.Hypervisor;

/// <summary>QEMU accelerator.</summary>
public enum Accel
{
    /// <summary>Hardware virtualization through /dev/kvm (<c>-cpu host</c>).</summary>
    Kvm,

    /// <summary>QEMU's software emulator, the Tiny Code Generator (<c>-cpu max</c>).</summary>
    Tcg,
}
