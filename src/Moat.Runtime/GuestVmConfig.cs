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
        string qmpSocket, string agentSocket, string name, bool cpusPresentFromBoot = false)
    {
        // Under TCG the agent and its helpers share fixed addresses, so their translated code is
        // reused: norandmaps for the agent's own start; it re-enables randomization for the rest.
        var cmdline = KernelParams.Default + " memhp_default_state=online swiotlb=noforce"
            + (accel == Accel.Tcg ? " norandmaps moat.tcg" : "") + (options.Debug ? " moat.debug" : "");
        var ceiling = options.Machine == MachineType.Q35 ? options.VcpuCeiling : vcpus;
        var present = vcpus;
        if (accel == Accel.Tcg && cpusPresentFromBoot && ceiling > vcpus)
        {
            // QEMU 7.2's TCG hands each vCPU thread a region of its translation buffer when the
            // thread starts: a vCPU plugged after the running ones have filled every region aborts
            // QEMU (tcg_region_initial_alloc__locked). So under TCG a pod's vCPUs all exist from
            // boot and the guest brings up only the ones asked for; growing is onlining (the agent).
            // Not for every VM: the idle extra vCPU thread costs a TCG start ~0.25 s (measured).
            present = ceiling;
            cmdline += FormattableString.Invariant($" maxcpus={vcpus}");
        }
        return new VmConfig
        {
            QemuBinary = options.QemuBinary,
            FirmwarePath = options.Machine == MachineType.Q35 && options.Firmware.Length > 0 ? options.Firmware : null,
            Machine = options.Machine,
            Accelerator = accel,
            TcgTranslationCacheMiB = options.TcgCacheMiB,
            Vcpus = present,
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

    /// <summary>
    /// A sandbox's VM: <see cref="Base"/> with the share at <paramref name="shareDir"/>, the modules
    /// disk, and one NIC per MAC in <paramref name="macs"/> (their taps passed from <see cref="QemuHypervisor.FirstTapFd"/> on).
    /// </summary>
    public static VmConfig Sandbox(RuntimeOptions options, string kernel, string initrd, Accel accel, int memoryMiB, int vcpus,
        string qmpSocket, string agentSocket, string name, bool growsCpus, string shareDir, string? modulesDisk, IReadOnlyList<string> macs) =>
        Base(options, kernel, initrd, accel, memoryMiB, vcpus, qmpSocket, agentSocket, name, cpusPresentFromBoot: growsCpus) with
        {
            Shares = [new SharedDirectory(SharePlan.Tag, shareDir, ReadOnly: false)],
            ModulesDisk = modulesDisk,
            Nics = macs.Select((mac, n) => new NicConfig(QemuHypervisor.FirstTapFd + n, mac)).ToList(),
        };

    /// <summary>
    /// The VMM launcher's command: <c>moat-vmm</c> beside this program (a small binary, quick to
    /// start on every VM start), else this program re-executed (<c>moat __vmm</c>), as from a build tree.
    /// </summary>
    public static IReadOnlyList<string> HelperCommand(RuntimeOptions options)
    {
        if (options.VmmHelperCommand is { } given)
        {
            return given;
        }
        var exe = Environment.ProcessPath ?? throw new InvalidOperationException("cannot locate the moat executable");
        var launcher = Path.Combine(Path.GetDirectoryName(exe) ?? "", VmmHelper.Binary);
        if (File.Exists(launcher))
        {
            return [launcher];
        }
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
        {
            var entry = Path.Combine(AppContext.BaseDirectory, "moat.dll");
            return File.Exists(entry) ? [exe, entry] : [exe];
        }
        return [exe];
    }
}
