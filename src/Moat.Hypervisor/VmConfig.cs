namespace Moat.Hypervisor;

/// <summary>Everything needed to launch one guest VM. Turned into QEMU arguments by <see cref="QemuCommandLine.Build"/>.</summary>
/// <remarks>
/// Socket paths (<see cref="QmpSocket"/>, <see cref="AgentSocket"/>) starting with '@' are Linux abstract socket
/// names; anything else must be an absolute filesystem path. Other paths must be absolute.
/// </remarks>
public sealed record VmConfig
{
    /// <summary>The VMM binary. Not part of the argv built by <see cref="QemuCommandLine.Build"/>.</summary>
    public string QemuBinary { get; init; } = "/usr/bin/qemu-system-x86_64";

    public MachineType Machine { get; init; } = MachineType.Q35;

    /// <summary>
    /// Firmware image (<c>-bios</c>); null = QEMU's default for the machine (SeaBIOS on q35).
    /// qboot boots the same kernel ~0.2 s sooner under TCG (measured), as it only loads it.
    /// </summary>
    public string? FirmwarePath { get; init; }

    public Accel Accelerator { get; init; } = Accel.Kvm;

    /// <summary>
    /// TCG translation block cache size (<c>-accel tcg,tb-size=N</c>); ignored under KVM. A guest
    /// fills whatever size it is given by the time it idles, and that is private memory of each VM.
    /// Measured here (`moat run`, 6 runs each): 16 MiB costs ~0.7 s of start as the agent's .NET
    /// code is translated again; 32 MiB starts as fast as 64.
    /// </summary>
    public int TcgTranslationCacheMiB { get; init; } = DefaultTcgTranslationCacheMiB;

    public const int DefaultTcgTranslationCacheMiB = 32;

    public int Vcpus { get; init; } = 1;

    /// <summary>
    /// Upper bound for CPU hotplug (<c>-smp N,maxcpus=M</c>); null = no hotplug. q35 only: microvm
    /// has no ACPI CPU hotplug. Each possible CPU costs the guest its per-CPU areas, so keep it near
    /// the host's CPU count.
    /// </summary>
    public int? MaxVcpus { get; init; }

    /// <summary>Boot memory; at least 64 MiB.</summary>
    public int MemoryMiB { get; init; } = 512;

    /// <summary>Upper bound for memory hotplug (<c>-m N,slots=8,maxmem=M</c>); null = no hotplug.</summary>
    public int? MaxMemoryMiB { get; init; }

    public required string KernelPath { get; init; }

    public required string InitrdPath { get; init; }

    /// <summary>
    /// Guest kernel command line. <see cref="QemuCommandLine.Build"/> adds <c>console=ttyS0</c>, <c>panic=-1</c>
    /// and (microvm under TCG with <see cref="TscKhz"/>) <c>tsc_early_khz=</c> unless already present.
    /// </summary>
    public string KernelCommandLine { get; init; } = string.Empty;

    /// <summary>QMP server socket QEMU creates ('@' = abstract).</summary>
    public required string QmpSocket { get; init; }

    /// <summary>Socket QEMU creates for the guest agent's virtio-serial port "moat.agent" ('@' = abstract).</summary>
    public required string AgentSocket { get; init; }

    /// <summary>
    /// The guest's serial console (ttyS0) goes to a ring buffer of this many bytes in QEMU (a power
    /// of two), read over QMP when a log is kept: a guest printing without end costs neither disk
    /// nor more memory than this.
    /// </summary>
    public int ConsoleRingBytes { get; init; } = DefaultConsoleRingBytes;

    public const int DefaultConsoleRingBytes = 128 * 1024;

    public IReadOnlyList<SharedDirectory> Shares { get; init; } = [];

    /// <summary>
    /// A raw disk image attached read-only as a virtio-blk disk with the serial
    /// <see cref="ModulesDiskSerial"/>: the guest kernel's modules, which the agent mounts so the
    /// kernel can load any module on demand. Null for none.
    /// </summary>
    public string? ModulesDisk { get; init; }

    /// <summary>The serial the guest finds the modules disk by.</summary>
    public const string ModulesDiskSerial = "moat-modules";

    /// <summary>Host TSC frequency passed to the guest as <c>tsc_early_khz</c> (microvm under TCG only).</summary>
    public long? TscKhz { get; init; }

    /// <summary>VM name (<c>-name</c>), shown in thread names and QMP.</summary>
    public required string Name { get; init; }

    /// <summary>Optional <c>-pidfile</c>.</summary>
    public string? PidFile { get; init; }

    /// <summary>Appended verbatim (no escaping, no validation) after everything else.</summary>
    public IReadOnlyList<string> ExtraArgs { get; init; } = [];

    /// <summary>
    /// Guest RAM in this file (<c>memory-backend-file</c>) instead of anonymous memory, for VM
    /// templates: null = anonymous. Saving with the x-ignore-shared capability skips file-backed
    /// shared RAM, so a saved state holds only the devices.
    /// </summary>
    public MemoryFile? MemoryFile { get; init; }

    /// <summary>
    /// Restore the devices from this saved state instead of booting; RAM comes from <see cref="MemoryFile"/>.
    /// QEMU starts with <c>-incoming defer</c>; its driver then sets x-ignore-shared and reads the
    /// state over QMP (migrate-incoming "fd:<see cref="IncomingStateFd"/>"), as QEMU 7.2 has no
    /// option for that capability.
    /// </summary>
    public string? IncomingStatePath { get; init; }

    /// <summary>
    /// The balloon reports freed guest pages and QEMU discards them. Off for file-backed RAM: QEMU
    /// discards file-backed RAM by punching holes in the file, which would zero a template's pages
    /// (a VM with <see cref="MemoryFile"/> gets no balloon device at all).
    /// </summary>
    public bool FreePageReporting { get; init; } = true;

    /// <summary>
    /// QEMU's own seccomp sandbox (<c>-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny</c>).
    /// On for every VM Moat starts.
    /// </summary>
    public bool Sandboxed { get; init; } = true;

    /// <summary>
    /// Let the sandboxed QEMU start processes: only for a VM being saved as a template, whose
    /// state goes out through <c>migrate "exec:cat > FILE"</c> (QEMU 7.2 has no file: URI and takes
    /// an outgoing fd only by name over QMP); such a VM runs nothing but Moat's own agent.
    /// </summary>
    public bool AllowSpawn { get; init; }

    /// <summary>
    /// The restored state is read from this inherited fd (<c>migrate-incoming "fd:N"</c>) rather than
    /// by a process: the VM's launcher opens <see cref="IncomingStatePath"/> onto it.
    /// </summary>
    public const int IncomingStateFd = 20;

    /// <summary>Network devices, each backed by an already-open tap fd that QEMU inherits.</summary>
    public IReadOnlyList<NicConfig> Nics { get; init; } = [];
}

/// <summary>
/// Guest RAM backed by <paramref name="Path"/>: <paramref name="Shared"/> writes go to the file (a
/// template being made); otherwise the file is mapped copy-on-write (clones of a template share
/// its untouched pages).
/// </summary>
public sealed record MemoryFile(string Path, bool Shared);

/// <summary>A virtio-net device on tap file descriptor <paramref name="Fd"/> with MAC <paramref name="Mac"/>.</summary>
public sealed record NicConfig(int Fd, string Mac);
