namespace Moat.ImageBuilder.Tests;

/// <summary>Builds from Debian's real kernel package (downloads ~70 MB). Run with --filter Category=Slow.</summary>
public sealed class RealKernelTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Builds_from_debians_kernel_package()
    {
        var steps = new List<GuestBuildProgress>();
        var options = new GuestBuildOptions { DataDir = _dir.Combine("data"), AgentPath = "/bin/ls" };

        var image = await new GuestImageBuilder(options).BuildAsync(new GuestImageBuilderTests.SyncProgress(steps), CancellationToken.None);

        Assert.True(image.Rebuilt);
        Assert.Matches(@"^\d+\.\d+\.\d+-\d+-amd64$", image.KernelVersion);
        using (var kernel = File.OpenRead(image.KernelPath))
        {
            var head = new byte[4];
            kernel.ReadExactly(head);
            Assert.Equal(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }, head);
            Assert.True(kernel.Length > 20_000_000, "vmlinux should be the uncompressed kernel");
        }

        var entries = GuestImageBuilderTests.ReadInitrd(image.InitrdPath).Select(e => e.Name).ToHashSet();
        var modules = Shell.Sh($"gzip -dc '{image.InitrdPath}' | cpio -i --quiet --to-stdout etc/moat/modules").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("kernel/drivers/virtio/virtio_pci.ko", modules);
        Assert.Contains("kernel/fs/9p/9p.ko", modules);
        Assert.True(Array.IndexOf(modules, "kernel/net/9p/9pnet.ko") < Array.IndexOf(modules, "kernel/fs/9p/9p.ko"));
        Assert.All(modules, m => Assert.Contains($"lib/modules/{image.KernelVersion}/{m}", entries));
        Assert.Contains("lib/x86_64-linux-gnu/libc.so.6", entries);
        Assert.Contains("lib64/ld-linux-x86-64.so.2", entries);

        var again = await new GuestImageBuilder(options).BuildAsync(null, CancellationToken.None);
        Assert.False(again.Rebuilt);
        Assert.Equal(image.Directory, GuestImage.TryLoadCurrent(options.DataDir)?.Directory);
    }
}
