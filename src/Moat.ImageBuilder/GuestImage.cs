namespace Moat.ImageBuilder;

/// <summary>A built guest image: an ELF kernel for QEMU's -kernel and a gzip'd initramfs whose /init is the agent.</summary>
/// <param name="Directory">The versioned image directory (DataDir/guest/&lt;key&gt;).</param>
/// <param name="KernelPath">The uncompressed vmlinux (boots through PVH).</param>
/// <param name="InitrdPath">The initrd.img.</param>
/// <param name="KernelVersion">Kernel release, e.g. 6.1.0-56-amd64.</param>
/// <param name="Rebuilt">False when an existing image with the same inputs was reused.</param>
public sealed record GuestImage(string Directory, string KernelPath, string InitrdPath, string KernelVersion, bool Rebuilt)
{
    /// <summary>The read-only ext4 image of all the kernel's modules (<see cref="ModulesDisk"/>), or null when the image has none.</summary>
    public string? ModulesDiskPath { get; init; }

    /// <summary>The image DataDir/guest/current points to, or null when there is none or it is incomplete. Cheap: one small read.</summary>
    public static GuestImage? TryLoadCurrent(string dataDir = "/var/lib/moat") => GuestImageStore.TryLoadCurrent(dataDir);

    /// <summary>The name of the link in DataDir/guest that names the current image.</summary>
    public const string CurrentLinkName = GuestImageStore.CurrentLinkName;

    /// <summary>Makes the image directory <paramref name="name"/> under <paramref name="guestRoot"/> the current one (a link replaced by rename).</summary>
    public static void MakeCurrent(string guestRoot, string name) => GuestImageStore.PointCurrentAt(guestRoot, name);
}
