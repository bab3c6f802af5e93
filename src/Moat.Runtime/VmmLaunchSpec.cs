using System.Text.Json.Serialization;
using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>What the VMM launcher (<c>moat-vmm</c>, or <c>moat __vmm</c>) needs: it builds the share, then execs QEMU.</summary>
public sealed record VmmLaunchSpec(
    int ParentPid,
    string ShareDir,
    IReadOnlyList<ShareBind> Binds,
    string Binary,
    IReadOnlyList<string> Args)
{
    /// <summary>The pod's network namespace, where the taps are opened (QEMU itself stays in the host's).</summary>
    public string? NetnsPath { get; init; }

    /// <summary>
    /// QEMU gets a network namespace of its own, where <see cref="Taps"/> are created (a template VM,
    /// which has NICs but no pod): they vanish with it. Its sockets must then be filesystem paths,
    /// as abstract socket names belong to a network namespace.
    /// </summary>
    public bool PrivateNetwork { get; init; }

    /// <summary>Taps to open in <see cref="NetnsPath"/> (or the private namespace), each onto a fixed fd number named in <see cref="Args"/>.</summary>
    public IReadOnlyList<TapFd> Taps { get; init; } = [];

    /// <summary>A saved VM state to restore: opened read-only onto <see cref="Moat.Hypervisor.VmConfig.IncomingStateFd"/>.</summary>
    public string? IncomingStatePath { get; init; }

    /// <summary>Confine QEMU (<see cref="VmmConfinement"/>): capabilities, no_new_privs, the host-file filter.</summary>
    public bool Confine { get; init; } = true;
}

/// <summary>Tap device <paramref name="Name"/> opened onto fd <paramref name="Fd"/> for QEMU.</summary>
public sealed record TapFd(string Name, int Fd);

/// <summary>A container of a sandbox, as <c>moat list</c> shows it.</summary>
public sealed record ContainerRecord(string Id, string Bundle, DateTime Created, int Pid);

// A file missing a field or holding null where a value belongs is refused when read, not used half-filled.
[JsonSourceGenerationOptions(RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(VmmLaunchSpec))]
[JsonSerializable(typeof(List<ContainerRecord>))]
internal sealed partial class RuntimeJson : JsonSerializerContext;
