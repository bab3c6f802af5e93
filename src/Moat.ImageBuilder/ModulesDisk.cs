namespace Moat.ImageBuilder;

/// <summary>
/// A read-only ext4 image of a kernel's whole /lib/modules/RELEASE tree (with the modules.dep
/// depmod wrote), attached to every VM as a virtio-blk disk: the guest mounts it and loads any
/// module on demand through its /sbin/modprobe. One per kernel package, shared by the images of
/// that kernel; QEMU opens it read-only, so its pages are shared through the host's page cache.
/// </summary>
internal static class ModulesDisk
{
    /// <summary>Where the disk of <paramref name="kernelDebFileName"/> lives, relative to the guest image root.</summary>
    public static string RelativePath(string kernelDebFileName) =>
        Path.Combine("modules", Path.GetFileNameWithoutExtension(kernelDebFileName) + ".ext4");

    /// <summary>Builds the disk at <paramref name="target"/> unless it is there (temp file, then rename).</summary>
    public static async Task EnsureAsync(ICommandRunner runner, string modulesDir, string target, CancellationToken ct)
    {
        if (File.Exists(target))
        {
            return;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = $"{target}.{Guid.NewGuid():N}.tmp";
        try
        {
            // Room for every file rounded up to a block, an inode each and some slack.
            const long block = 4096;
            var files = Directory.EnumerateFiles(modulesDir, "*", SearchOption.AllDirectories).Select(f => new FileInfo(f)).ToList();
            var bytes = files.Sum(f => (f.Length + block - 1) / block * block) + files.Count * 512L + (64L << 20);
            string[] args = ["-q", "-F", "-t", "ext4", "-O", "^has_journal,^resize_inode,^metadata_csum", "-L", "moat-modules", "-m", "0",
                "-E", "root_owner=0:0", "-d", modulesDir, temp, $"{bytes / 1024}k"];
            await HostTools.RunCheckedAsync(runner, "mke2fs", args, null, "install e2fsprogs (apt-get install e2fsprogs)", ct).ConfigureAwait(false);
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            File.Move(temp, target);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
