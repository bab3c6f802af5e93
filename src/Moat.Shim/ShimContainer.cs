using Moat.Runtime;

namespace Moat.Shim;

/// <summary>A task: the VM it shares with the rest of its pod, its bundle and rootfs mount, its processes.</summary>
internal sealed class ShimContainer
{
    public required string Id { get; init; }
    public required string Bundle { get; init; }
    public required Sandbox Sandbox { get; init; }
    public required ShimProcess Init { get; init; }
    public required bool RootfsMounted { get; init; }
    public bool Paused { get; set; }

    /// <summary>The CRI sandbox (pause) container, whose namespaces the pod's other containers join.</summary>
    public bool IsPodSandbox { get; init; }

    public Dictionary<string, ShimProcess> Execs { get; } = [];
}
