using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>The VM every Moat guest boots in, before per-sandbox paths, shares and NICs are added.</summary>
internal static class GuestVmConfig
{
    /// <summary>
    /// The configured shape (<paramref name="memoryMiB"/> and <paramref name="vcpus"/> as given)
    /// under <paramref name="accel"/>, booting <paramref name="kernel"/> and <paramref name="initrd"/>.
    /// </summary>
    public static VmConfig Base(RuntimeOptions options, string kernel, string initrd, Accel accel, int memoryMiB, int vcpus,
        string qmpSocket, string agentSocket, string name)
    {
        // Under TCG the agent and its helpers share fixed addresses, so their translated code is
        // reused: norandmaps for the agent's own start; it re-enables randomization for the rest.
        var cmdline = KernelParams.Default + " memhp_default_state=online swiotlb=noforce"
            + (accel == Accel.Tcg ? " norandmaps moat.tcg" : "") + (options.Debug ? " moat.debug" : "");
        return new VmConfig
        {
            QemuBinary = options.QemuBinary,
            FirmwarePath = options.Machine == MachineType.Q35 && options.Firmware.Length > 0 ? options.Firmware : null,
            Machine = options.Machine,
            Accelerator = accel,
            TcgTranslationCacheMiB = options.TcgCacheMiB,
            Vcpus = vcpus,
            // microvm has no ACPI CPU hotplug: its vCPUs are fixed at boot.
            MaxVcpus = options.Machine == MachineType.Q35 ? options.VcpuCeiling : null,
            MemoryMiB = memoryMiB,
            MaxMemoryMiB = Math.Max(options.MaxMemoryMiB, memoryMiB),
            KernelPath = kernel,
            InitrdPath = initrd,
            KernelCommandLine = cmdline,
            QmpSocket = qmpSocket,
            AgentSocket = agentSocket,
            TscKhz = accel == Accel.Tcg ? AcceleratorProbe.HostTscKhz() : null,
            Name = name,
        };
    }

    /// <summary>The command that re-executes this program as the VMM launcher (<c>moat __vmm</c>).</summary>
    public static IReadOnlyList<string> HelperCommand(RuntimeOptions options)
    {
        if (options.VmmHelperCommand is { } given)
        {
            return given;
        }
        var exe = Environment.ProcessPath ?? throw new InvalidOperationException("cannot locate the moat executable");
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
        {
            var entry = Path.Combine(AppContext.BaseDirectory, "moat.dll");
            return File.Exists(entry) ? [exe, entry] : [exe];
        }
        return [exe];
    }
}
