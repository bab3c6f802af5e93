using Moat.Runtime;

namespace Moat.Shim;

/// <summary>A task: its VM (one per container for now), its bundle and rootfs mount, its processes.</summary>
internal sealed class ShimContainer
{
    public required string Id { get; init; }
    public required string Bundle { get; init; }
    public required Sandbox Sandbox { get; init; }
    public required ShimProcess Init { get; init; }
    public required bool RootfsMounted { get; init; }
    public bool Paused { get; set; }
    public Dictionary<string, ShimProcess> Execs { get; } = [];
}
