using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>Where Moat keeps things and how it sizes VMs.</summary>
public sealed record RuntimeOptions
{
    public string DataDir { get; init; } = "/var/lib/moat";
    public string StateRoot { get; init; } = "/run/moat";
    public string LogDir { get; init; } = "/var/log/moat";
    public string QemuBinary { get; init; } = "/usr/bin/qemu-system-x86_64";
    public MachineType Machine { get; init; } = MachineType.Q35;

    /// <summary>q35's firmware; empty = QEMU's own (SeaBIOS). microvm always has its own.</summary>
    public string Firmware { get; init; } = DefaultFirmware;

    private static readonly string DefaultFirmware = File.Exists(Qboot) ? Qboot : "";

    /// <summary>qboot, shipped by Debian's qemu-system-data: loads the kernel and nothing else.</summary>
    public const string Qboot = "/usr/share/qemu/qboot.rom";
    public int MemoryMiB { get; init; } = 512;

    /// <summary>What memory hotplug may grow a VM to (containers' limits are added to <see cref="MemoryMiB"/>).</summary>
    public int MaxMemoryMiB { get; init; } = 8192;
    public int Vcpus { get; init; } = 1;

    /// <summary>What CPU limits may grow a VM to, by hotplug on q35 (0 = the host's CPUs).</summary>
    public int MaxVcpus { get; init; }

    /// <summary><see cref="MaxVcpus"/> resolved: the host's CPUs when 0, never below <see cref="Vcpus"/>.</summary>
    public int VcpuCeiling => Math.Max(Vcpus, MaxVcpus > 0 ? MaxVcpus : Environment.ProcessorCount);

    /// <summary>TCG translation cache per VM, in MiB (software emulation only).</summary>
    public int TcgCacheMiB { get; init; } = VmConfig.DefaultTcgTranslationCacheMiB;
    /// <summary>
    /// Start VMs of the configured shape by restoring a saved template VM instead of booting a
    /// kernel (<see cref="VmTemplates"/>); the first such VM makes the template.
    /// </summary>
    public bool Templates { get; init; } = true;

    /// <summary>Where templates are kept: they belong to the guest image, so beside it.</summary>
    public string TemplateDir => Path.Combine(DataDir, "templates");
    public TimeSpan AgentTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>KVM, TCG, or KVM once a canary has booted the guest under it (<see cref="AcceleratorSelection"/>).</summary>
    public AcceleratorChoice Accelerator { get; init; } = AcceleratorChoice.Auto;

    /// <summary>The KVM device.</summary>
    public string KvmDevice { get; init; } = "/dev/kvm";

    /// <summary>
    /// The node's runtime directory (a tmpfs): what belongs to the host rather than to one
    /// container root, such as the accelerator verdicts. Apart from every <c>--root</c>, so no
    /// container id can collide with it.
    /// </summary>
    public string NodeDir { get; init; } = "/run/moat-node";

    /// <summary>Where the accelerator canaries' verdicts are kept.</summary>
    public string AcceleratorDir => Path.Combine(NodeDir, "accelerator");

    /// <summary>The shim daemons' sockets (root-only): one per sandbox, where <c>moat monitor</c> finds them.</summary>
    public string ShimSocketDir => Path.Combine(NodeDir, "shim");
    public bool Debug { get; init; }

    /// <summary>Explicit guest image paths (tests, benchmarks); default: the current image under DataDir.</summary>
    public string? KernelPath { get; init; }
    public string? InitrdPath { get; init; }

    /// <summary>The command that re-executes this program in VMM-launcher mode (argv prefix).</summary>
    public IReadOnlyList<string>? VmmHelperCommand { get; init; }

    /// <summary>MOAT_MEMORY_MIB, MOAT_VCPUS, MOAT_TCG_CACHE_MIB, MOAT_MACHINE, MOAT_TEMPLATE (0 = off), MOAT_AGENT_TIMEOUT, MOAT_KERNEL, MOAT_INITRD, MOAT_QEMU, MOAT_ACCELERATOR, MOAT_NODE_DIR: overrides for tests and benchmarks.</summary>
    public RuntimeOptions WithEnvironmentOverrides()
    {
        var o = this;
        if (Environment.GetEnvironmentVariable("MOAT_MEMORY_MIB") is { } mem && int.TryParse(mem, out var m))
        {
            o = o with { MemoryMiB = m };
        }
        if (Environment.GetEnvironmentVariable("MOAT_VCPUS") is { } cpus && int.TryParse(cpus, out var n))
        {
            o = o with { Vcpus = n };
        }
        if (Environment.GetEnvironmentVariable("MOAT_TCG_CACHE_MIB") is { } tcg && int.TryParse(tcg, out var tb))
        {
            o = o with { TcgCacheMiB = tb };
        }
        if (Environment.GetEnvironmentVariable("MOAT_MACHINE") is { } machine)
        {
            o = o with { Machine = machine == "microvm" ? MachineType.Microvm : MachineType.Q35 };
        }
        if (Environment.GetEnvironmentVariable("MOAT_TEMPLATE") is { } template)
        {
            o = o with { Templates = template != "0" };
        }
        if (Environment.GetEnvironmentVariable("MOAT_AGENT_TIMEOUT") is { } t && int.TryParse(t, out var secs))
        {
            o = o with { AgentTimeout = TimeSpan.FromSeconds(secs) };
        }
        if (Environment.GetEnvironmentVariable("MOAT_KERNEL") is { } k)
        {
            o = o with { KernelPath = k };
        }
        if (Environment.GetEnvironmentVariable("MOAT_INITRD") is { } i)
        {
            o = o with { InitrdPath = i };
        }
        if (Environment.GetEnvironmentVariable("MOAT_QEMU") is { } q)
        {
            o = o with { QemuBinary = q };
        }
        if (Environment.GetEnvironmentVariable("MOAT_ACCELERATOR") is { Length: > 0 } accel)
        {
            o = o with
            {
                Accelerator = AcceleratorChoices.Parse(accel) ?? throw new RuntimeException(RuntimeErrorKind.InvalidArgument,
                    $"MOAT_ACCELERATOR: unknown accelerator \"{accel}\" (use {AcceleratorChoices.Allowed})"),
            };
        }
        if (Environment.GetEnvironmentVariable("MOAT_NODE_DIR") is { Length: > 0 } node)
        {
            o = o with { NodeDir = node };
        }
        return o;
    }
}
