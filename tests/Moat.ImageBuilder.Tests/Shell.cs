namespace Moat.ImageBuilder.Tests;

/// <summary>Runs real host tools from tests.</summary>
internal static class Shell
{
    public static CommandResult Run(string file, params string[] args) =>
        ProcessCommandRunner.Instance.RunAsync(file, args, null, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Runs "sh -c script" and fails the test unless it exits 0.</summary>
    public static string Sh(string script)
    {
        var result = Run("sh", "-c", script);
        Assert.True(result.ExitCode == 0, $"'{script}' failed ({result.ExitCode}): {result.StandardError}");
        return result.StandardOutput;
    }

    /// <summary>An ELF-looking file ("\x7fELF" + filler) and its xz compression, made with the real xz.</summary>
    public static (byte[] Elf, byte[] Xz) MakeXzElf(TempDir dir, int size = 5000)
    {
        var elf = new byte[size];
        new Random(42).NextBytes(elf);
        elf[0] = 0x7F;
        elf[1] = (byte)'E';
        elf[2] = (byte)'L';
        elf[3] = (byte)'F';
        var path = dir.Combine("fake-elf");
        File.WriteAllBytes(path, elf);
        Sh($"xz --check=crc32 -k -f '{path}'");
        return (elf, File.ReadAllBytes(path + ".xz"));
    }

    /// <summary>A fake bzImage: setup bytes, a false xz magic, the real xz stream, then a size trailer and padding.</summary>
    public static byte[] MakeFakeBzImage(byte[] xz)
    {
        byte[] falseMagic = [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 1, 2, 3, 4, 5, 6, 7, 8];
        var setup = new byte[3000];
        new Random(7).NextBytes(setup);
        return [.. setup, .. falseMagic, .. new byte[100], .. xz, 0x88, 0x13, 0, 0, .. new byte[512]];
    }
}
