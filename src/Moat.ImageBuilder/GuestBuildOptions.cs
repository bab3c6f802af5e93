namespace Moat.ImageBuilder;

/// <summary>Inputs of <see cref="GuestImageBuilder"/>.</summary>
public sealed record GuestBuildOptions
{
    /// <summary>
    /// Modules the agent loads at boot (their dependencies are added automatically). pvpanic_pci
    /// tells QEMU when the guest kernel panics (QMP GUEST_PANICKED), so the host fails fast; ext4
    /// mounts the modules disk (it needs a crc32c driver), from which every other module is loaded on demand.
    /// </summary>
    public static IReadOnlyList<string> DefaultModules { get; } =
        ["virtio_pci", "virtio_console", "9pnet_virtio", "9p", "overlay", "virtio_net", "virtio_blk", "virtio_balloon", "pvpanic_pci", "crc32c_generic", "ext4"];

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

    /// <summary>
    /// Libraries the agent opens at run time, by soname: they are not in its ELF NEEDED list, so
    /// ldd does not name them. libseccomp (Moat.Linux's Libseccomp.Lib) builds and loads
    /// containers' seccomp filters.
    /// </summary>
    public static IReadOnlyList<string> DefaultRuntimeLibraries { get; } = ["libseccomp.so.2"];

    /// <summary>Where runtime libraries are looked up on the host, in order (each keeps its path in the guest).</summary>
    public static IReadOnlyList<string> DefaultLibraryDirectories { get; } =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"];

    /// <summary>Runtime libraries put into the initrd with the libraries they need.</summary>
    public IReadOnlyList<string> RuntimeLibraries { get; init; } = DefaultRuntimeLibraries;

    /// <summary>Directories <see cref="RuntimeLibraries"/> are looked up in.</summary>
    public IReadOnlyList<string> LibraryDirectories { get; init; } = DefaultLibraryDirectories;

    /// <summary>Rebuild even when an image with the same inputs exists.</summary>
    public bool Force { get; init; }
}
