using Moat.Oci;

namespace Moat.Runtime;

/// <summary>What one container's limits add to its VM: MiB of memory and vCPUs (0: no limit).</summary>
public readonly record struct ContainerLimits(int MemoryMiB, int Cpus)
{
    public static ContainerLimits Of(Spec spec) => Of(spec.Linux?.Resources);

    public static ContainerLimits Of(LinuxResources? resources) => new(MemoryOf(resources) ?? 0, CpusOf(resources));

    /// <summary>MiB a memory limit asks for, rounded up; null when there is none.</summary>
    public static int? MemoryOf(LinuxResources? resources) =>
        resources?.Memory?.Limit is long l && l > 0 ? (int)Math.Min(int.MaxValue, (l + (1 << 20) - 1) >> 20) : null;

    /// <summary>vCPUs a CPU limit (quota over period, rounded up) asks for; 0 when there is none.</summary>
    public static int CpusOf(LinuxResources? resources) =>
        resources?.Cpu is { Quota: long q and > 0, Period: ulong p and > 0 } ? (int)Math.Min(256, ((ulong)q + p - 1) / p) : 0;

    /// <summary>These limits with what <paramref name="update"/> sets (linux.resources of an update: what it leaves out stays).</summary>
    public ContainerLimits With(LinuxResources? update) =>
        new(MemoryOf(update) ?? MemoryMiB, CpusOf(update) is var c and > 0 ? c : Cpus);
}

/// <summary>
/// The size a sandbox's VM must have: the configured memory and vCPUs plus every container's
/// limits (a pod's VM is the sum of its containers, as Kata sizes it). Pure bookkeeping, one
/// place for the rules; <see cref="Sandbox"/> grows the VM to what it says.
/// </summary>
public sealed class VmSizing(string sandboxId, int baseMemoryMiB, int baseVcpus, int maxMemoryMiB, int vcpuCeiling)
{
    /// <summary>x86 hotplugs memory in blocks of this size.</summary>
    public const int MemoryBlockMiB = 128;

    private readonly Dictionary<string, ContainerLimits> _limits = [];

    public int BaseMemoryMiB => baseMemoryMiB;

    /// <summary>The most memory the VM may grow to (never below its configured size).</summary>
    public int MaxMemoryMiB => Math.Max(maxMemoryMiB, baseMemoryMiB);

    /// <summary>The limits recorded for <paramref name="containerId"/> (none: zero).</summary>
    public ContainerLimits LimitsOf(string containerId)
    {
        lock (_limits)
        {
            return _limits.GetValueOrDefault(containerId);
        }
    }

    /// <summary>Memory (MiB) and vCPUs the VM needs if <paramref name="containerId"/> had <paramref name="limits"/>, the others as recorded; vCPUs capped at the ceiling.</summary>
    public (int MemoryMiB, int Vcpus) TargetWith(string containerId, ContainerLimits limits)
    {
        lock (_limits)
        {
            var others = _limits.Where(l => l.Key != containerId).Select(l => l.Value).ToList();
            return (baseMemoryMiB + others.Sum(l => l.MemoryMiB) + limits.MemoryMiB,
                Math.Min(baseVcpus + others.Sum(l => l.Cpus) + limits.Cpus, vcpuCeiling));
        }
    }

    public void Record(string containerId, ContainerLimits limits)
    {
        lock (_limits)
        {
            _limits[containerId] = limits;
        }
    }

    public void Forget(string containerId)
    {
        lock (_limits)
        {
            _limits.Remove(containerId);
        }
    }

    /// <summary>Whether a VM of <paramref name="currentMiB"/> can hotplug its way to <paramref name="targetMiB"/> (see <see cref="MemoryToAdd"/>).</summary>
    public bool CanGrow(int currentMiB, int targetMiB) => currentMiB + Blocks(targetMiB - currentMiB) <= MaxMemoryMiB;

    private static int Blocks(int mib) => mib <= 0 ? 0 : (mib + MemoryBlockMiB - 1) / MemoryBlockMiB * MemoryBlockMiB;

    /// <summary>
    /// MiB to hotplug for a VM of <paramref name="currentMiB"/> to hold <paramref name="targetMiB"/>:
    /// 0 when it already does, else whole blocks; refused beyond <see cref="MaxMemoryMiB"/>, and
    /// when the VM's <paramref name="slotsUsed"/> already fill its memory hotplug slots.
    /// </summary>
    public int MemoryToAdd(int currentMiB, int targetMiB, int slotsUsed = 0)
    {
        if (targetMiB <= currentMiB)
        {
            return 0;
        }
        var add = Blocks(targetMiB - currentMiB);
        if (!CanGrow(currentMiB, targetMiB))
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"cannot grow the VM of {sandboxId} to {currentMiB + add} MiB: the maximum is {MaxMemoryMiB} MiB (hypervisor.max_memory_mib)");
        }
        if (slotsUsed >= Moat.Hypervisor.QemuCommandLine.MemoryHotplugSlots)
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"cannot grow the VM of {sandboxId} by {add} MiB: its {Moat.Hypervisor.QemuCommandLine.MemoryHotplugSlots} memory hotplug slots are used; give the container's limit when it is created, or set a larger hypervisor.memory_mib");
        }
        return add;
    }
}
