namespace Moat.ImageBuilder.Tests;

/// <summary>
/// Fakes apt-cache, apt-get, dpkg-deb and depmod for a made-up kernel package whose tree has a fake bzImage
/// (real xz stream around a fake ELF) and .ko files; xz and ldd run for real.
/// </summary>
internal sealed class FakeDebian
{
    public const string KernelVersion = "6.1.0-99-amd64";
    public const string Package = "linux-image-" + KernelVersion;

    public const string ModulesDep = """
        kernel/fs/overlayfs/overlay.ko:
        kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
        kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
        kernel/fs/netfs/netfs.ko:
        kernel/net/9p/9pnet.ko:
        kernel/drivers/virtio/virtio_pci_modern_dev.ko:
        kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
        kernel/drivers/virtio/virtio.ko:
        kernel/drivers/virtio/virtio_ring.ko:
        kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/virtio/virtio_balloon.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
        kernel/net/core/failover.ko:
        kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/hid/hid.ko:
        kernel/drivers/misc/pvpanic/pvpanic.ko:
        kernel/drivers/misc/pvpanic/pvpanic-pci.ko: kernel/drivers/misc/pvpanic/pvpanic.ko
        kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
        kernel/lib/crc16.ko:
        kernel/fs/mbcache.ko:
        kernel/fs/jbd2/jbd2.ko:
        kernel/crypto/crc32c_generic.ko:

        """;

    private readonly byte[] _bzImage;
    private readonly byte[] _debContent = "!<arch>\nfake deb\n"u8.ToArray();

    public FakeDebian(TempDir dir, string version = "6.1.999-1")
    {
        FileName = $"{Package}_{version}_amd64.deb";
        (Elf, var xz) = Shell.MakeXzElf(dir);
        _bzImage = Shell.MakeFakeBzImage(xz);
        Runner = new FakeRunner(ProcessCommandRunner.Instance)
            .On("apt-cache", AptCache)
            .On("apt-get", AptGet)
            .On("dpkg-deb", DpkgDeb)
            .On("depmod", Depmod);
    }

    public string FileName { get; }

    public byte[] Elf { get; }

    public FakeRunner Runner { get; }

    /// <summary>When set, "apt-get download --print-uris" fails with "Unable to locate" until "apt-get update" ran.</summary>
    public bool ListsMissing { get; set; }

    /// <summary>When set, "apt-get download &lt;pkg&gt;" fails like an unreachable mirror.</summary>
    public bool MirrorDown { get; set; }

    public static IEnumerable<string> ModulePaths =>
        ModulesDep.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)]);

    private static CommandResult Ok(string stdout = "") => new(0, stdout, string.Empty);

    private CommandResult AptCache(IReadOnlyList<string> args, string? cwd) => args switch
    {
        ["depends", "linux-image-amd64"] => Ok($"linux-image-amd64\n  Depends: {Package}\n"),
        _ => new CommandResult(100, string.Empty, $"E: No packages found"),
    };

    private CommandResult AptGet(IReadOnlyList<string> args, string? cwd)
    {
        switch (args)
        {
            case ["update"]:
                ListsMissing = false;
                return Ok("Reading package lists...\n");
            case ["download", "--print-uris", Package] when !ListsMissing:
                return Ok($"'http://deb.example/pool/{FileName}' {FileName} {_debContent.Length} SHA256:00\n");
            case ["download", Package] when MirrorDown:
                return new CommandResult(100, string.Empty, $"Err:1 http://deb.example {Package}\nE: Failed to fetch http://deb.example/pool/{FileName}  Temporary failure resolving 'deb.example'\n");
            case ["download", Package] when cwd is not null && !ListsMissing:
                File.WriteAllBytes(Path.Combine(cwd, FileName), _debContent);
                return Ok();
            default:
                return new CommandResult(100, "Reading package lists...\n", $"E: Unable to locate package {args[^1]}\n");
        }
    }

    private CommandResult DpkgDeb(IReadOnlyList<string> args, string? cwd)
    {
        if (args is not ["-x", var deb, var dest] || !File.Exists(deb))
        {
            return new CommandResult(2, string.Empty, "dpkg-deb: error: bad arguments\n");
        }

        Directory.CreateDirectory(Path.Combine(dest, "boot"));
        File.WriteAllBytes(Path.Combine(dest, "boot", $"vmlinuz-{KernelVersion}"), _bzImage);
        foreach (var module in ModulePaths)
        {
            var path = Path.Combine(dest, "lib", "modules", KernelVersion, module);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, $"ELF module {module}");
        }

        return Ok();
    }

    private CommandResult Depmod(IReadOnlyList<string> args, string? cwd)
    {
        if (args is not ["-b", var root, KernelVersion])
        {
            return new CommandResult(1, string.Empty, "depmod: ERROR: bad arguments\n");
        }

        File.WriteAllText(Path.Combine(root, "lib", "modules", KernelVersion, "modules.dep"), ModulesDep);
        return Ok();
    }
}
