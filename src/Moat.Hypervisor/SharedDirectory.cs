namespace Moat.Hypervisor;

/// <summary>A host directory exported to the guest over virtio-9p; the guest mounts it by <paramref name="Tag"/>.</summary>
/// <param name="Tag">The 9p mount tag (unique per VM, no whitespace).</param>
/// <param name="HostPath">Absolute host directory.</param>
/// <param name="ReadOnly">Export read-only (<c>readonly=on</c>).</param>
public sealed record SharedDirectory(string Tag, string HostPath, bool ReadOnly);
