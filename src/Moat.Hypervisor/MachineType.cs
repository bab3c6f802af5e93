namespace Moat.Hypervisor;

/// <summary>QEMU machine model.</summary>
public enum MachineType
{
    /// <summary>The default: a full PCIe PC (<c>-machine q35</c>).</summary>
    Q35,

    /// <summary>
    /// The minimal <c>microvm</c> machine, emitted as
    /// <c>microvm,pit=off,pic=off,isa-serial=on,rtc=off,pcie=on</c>: no legacy PIT/PIC/RTC, an ISA serial
    /// port for the console, and a PCIe host bridge (pcie=on) so the virtio-pci devices (virtio-serial, 9p) work.
    /// Under TCG set <see cref="VmConfig.TscKhz"/>: the guest may hang calibrating the TSC otherwise.
    /// </summary>
    Microvm,
}
