namespace Moat.Guest;

/// <summary>Inputs of <see cref="GuestImageBuilder"/>.</summary>
public sealed record GuestBuildOptions
{
    /// <summary>
    /// Modules the agent loads at boot (their dependencies are added automatically). pvpanic_pci
    /// tells QEMU when the guest kernel panics (QMP GUEST_PANICKED), so the host fails fast.
    /// </summary>
    public static IReadOnlyList<string> DefaultModules { get; } =
        ["virtio_pci", "virtio_console", "9pnet_virtio", "9p", "overlay", "virtio_net", "virtio_blk", "virtio_balloon", "pvpanic_pci"];

    /// <summary>Root of Moat's state; the kernel cache goes to DataDir/cache, images to DataDir/guest.</summary>
    public string DataDir { get; init; } = "/var/lib/moat";

    /// <summary>The NativeAOT agent executable; becomes the guest's /init.</summary>
    public required string AgentPath { get; init; }

    /// <summary>Debian kernel package, a meta package (resolved through apt-cache depends) or a concrete linux-image-&lt;ver&gt;-amd64.</summary>
    public string KernelPackage { get; init; } = "linux-image-amd64";

    /// <summary>An already-downloaded kernel .deb; when set nothing is downloaded.</summary>
    public string? KernelDeb { get; init; }

    /// <summary>Kernel modules put into the initrd and listed in /etc/moat/modules.</summary>
    public IReadOnlyList<string> Modules { get; init; } = DefaultModules;

    /// <summary>Rebuild even when an image with the same inputs exists.</summary>
    public bool Force { get; init; }
}
