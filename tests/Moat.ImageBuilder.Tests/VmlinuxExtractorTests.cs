namespace Moat.ImageBuilder.Tests;

public sealed class VmlinuxExtractorTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Finds_the_xz_stream_after_a_false_magic_and_ignores_trailing_bytes()
    {
        var (elf, xz) = Shell.MakeXzElf(_dir);
        var bzImage = _dir.Combine("vmlinuz");
        await File.WriteAllBytesAsync(bzImage, Shell.MakeFakeBzImage(xz));
        var output = _dir.Combine("vmlinux");

        await VmlinuxExtractor.ExtractAsync(ProcessCommandRunner.Instance, bzImage, output, CancellationToken.None);

        Assert.Equal(elf, await File.ReadAllBytesAsync(output));
        Assert.Equal(["fake-elf", "fake-elf.xz", "vmlinux", "vmlinuz"], Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Xz_payload_that_is_not_an_elf_is_rejected()
    {
        var data = _dir.Combine("data");
        await File.WriteAllTextAsync(data, "not an elf at all");
        Shell.Sh($"xz -k '{data}'");
        var bzImage = _dir.Combine("vmlinuz");
        await File.WriteAllBytesAsync(bzImage, [1, 2, 3, .. await File.ReadAllBytesAsync(data + ".xz")]);

        var e = await Assert.ThrowsAsync<GuestImageException>(() => VmlinuxExtractor.ExtractAsync(ProcessCommandRunner.Instance, bzImage, _dir.Combine("vmlinux"), CancellationToken.None));

        Assert.Contains("CONFIG_KERNEL_XZ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_xz_names_the_debian_package()
    {
        var bzImage = _dir.Combine("vmlinuz");
        await File.WriteAllBytesAsync(bzImage, [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 0, 0]);
        var runner = new FakeRunner(ProcessCommandRunner.Instance).Missing("xz");

        var e = await Assert.ThrowsAsync<GuestImageException>(() => VmlinuxExtractor.ExtractAsync(runner, bzImage, _dir.Combine("vmlinux"), CancellationToken.None));

        Assert.Equal("'xz' not found: install it with 'apt-get install xz-utils'", e.Message);
    }
}
