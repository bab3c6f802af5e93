using System.IO.Compression;
using System.Text;

namespace Moat.ImageBuilder.Tests;

public sealed class CpioWriterTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static byte[] Sample()
    {
        using var output = new MemoryStream();
        var cpio = new CpioWriter(output);
        cpio.AddDirectory("etc");
        cpio.AddFile("etc/hello", Encoding.ASCII.GetBytes("hello\n"), 0x1A4);
        cpio.AddFile("init", new byte[] { 1, 2, 3, 4, 5, 6, 7 }, 0x1ED);
        using (var stream = new MemoryStream(new byte[] { 9, 9, 9 }))
        {
            cpio.AddFile("abc", stream, 3, 0x180);
        }

        cpio.AddSymlink("lib64", "lib");
        cpio.AddCharDevice("console", 0x180, 5, 1);
        cpio.Finish();
        return output.ToArray();
    }

    [Fact]
    public void Headers_names_and_padding_follow_newc()
    {
        var entries = CpioParser.Parse(Sample());

        Assert.Equal(["etc", "etc/hello", "init", "abc", "lib64", "console"], entries.Select(e => e.Name));
        Assert.Equal(0x41EDu, entries[0].Mode);
        Assert.Equal(2u, entries[0].Nlink);
        Assert.Equal("hello\n", Encoding.ASCII.GetString(entries[1].Data));
        Assert.Equal(0x81A4u, entries[1].Mode);
        Assert.Equal(0x81EDu, entries[2].Mode);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7 }, entries[2].Data);
        Assert.Equal(new byte[] { 9, 9, 9 }, entries[3].Data);
        Assert.Equal(0xA1FFu, entries[4].Mode);
        Assert.Equal("lib", Encoding.UTF8.GetString(entries[4].Data));
        Assert.Equal(0x2180u, entries[5].Mode);
        Assert.Equal((5u, 1u), (entries[5].RdevMajor, entries[5].RdevMinor));
        Assert.All(entries, e => Assert.Equal(0u, e.Mtime));
        Assert.Equal(entries.Count, entries.Select(e => e.Ino).Distinct().Count());
    }

    [Fact]
    public void Output_is_deterministic()
    {
        Assert.Equal(Sample(), Sample());
    }

    [Fact]
    public void Gnu_cpio_lists_and_extracts_it()
    {
        var archive = _dir.Combine("a.cpio");
        File.WriteAllBytes(archive, Sample());

        var listing = Shell.Sh($"cpio -it --quiet -F '{archive}'");
        Assert.Equal(["etc", "etc/hello", "init", "abc", "lib64", "console"], listing.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var verbose = Shell.Sh($"cpio -itv --quiet -F '{archive}'");
        Assert.Contains("-rwxr-xr-x", verbose, StringComparison.Ordinal);
        Assert.Contains("lib64 -> lib", verbose, StringComparison.Ordinal);
        Assert.Contains("crw-------", verbose, StringComparison.Ordinal);

        var root = Directory.CreateDirectory(_dir.Combine("x")).FullName;
        Shell.Sh($"cd '{root}' && cpio -id --quiet -F '{archive}' etc etc/hello init lib64");
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(root, "etc", "hello")));
        Assert.Equal("755", Shell.Sh($"stat -c %a '{Path.Combine(root, "init")}'").Trim());
        Assert.Equal("lib", new FileInfo(Path.Combine(root, "lib64")).LinkTarget);
    }

    [Fact]
    public void Nothing_can_be_added_after_the_trailer()
    {
        using var output = new MemoryStream();
        var cpio = new CpioWriter(output);
        cpio.Finish();

        Assert.Throws<InvalidOperationException>(() => cpio.AddDirectory("x"));
        Assert.Empty(CpioParser.Parse(output.ToArray()));
    }

    [Fact]
    public void Layout_adds_parents_sorts_and_gzips()
    {
        var host = _dir.Combine("host-file");
        File.WriteAllText(host, "content");
        var layout = new InitramfsLayout();
        layout.AddHostFile("/lib/modules/6.1/kernel/a.ko", host);
        layout.AddFile("/etc/moat/modules", Encoding.ASCII.GetBytes("kernel/a.ko\n"));
        layout.AddDirectory("/proc");
        layout.AddDirectory("etc");

        var gz = _dir.Combine("initrd.img");
        layout.WriteGzip(gz, CompressionLevel.Fastest, CancellationToken.None);

        var listing = Shell.Sh($"gzip -dc '{gz}' | cpio -it --quiet");
        Assert.Equal(
            ["etc", "etc/moat", "etc/moat/modules", "lib", "lib/modules", "lib/modules/6.1", "lib/modules/6.1/kernel", "lib/modules/6.1/kernel/a.ko", "proc"],
            listing.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        using var decompressed = new MemoryStream();
        using (var gzip = new GZipStream(File.OpenRead(gz), CompressionMode.Decompress))
        {
            gzip.CopyTo(decompressed);
        }

        var entry = CpioParser.Parse(decompressed.ToArray()).Single(e => e.Name.EndsWith("a.ko", StringComparison.Ordinal));
        Assert.Equal("content", Encoding.ASCII.GetString(entry.Data));
    }

    [Fact]
    public void Layout_rejects_a_file_where_a_directory_is_needed()
    {
        var layout = new InitramfsLayout();
        layout.AddFile("etc", [1]);

        Assert.Throws<GuestImageException>(() => layout.AddFile("etc/moat/modules", [2]));
    }
}
