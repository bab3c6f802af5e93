namespace Moat.ImageBuilder;

/// <summary>
/// Gets the uncompressed ELF kernel (vmlinux) out of a bzImage built with CONFIG_KERNEL_XZ: QEMU boots the ELF
/// directly through PVH, about three times faster than decompressing a bzImage under TCG.
/// </summary>
internal static class VmlinuxExtractor
{
    private static ReadOnlySpan<byte> XzMagic => [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00];

    private static ReadOnlySpan<byte> ElfMagic => [0x7F, 0x45, 0x4C, 0x46];

    /// <summary>Writes the vmlinux found in <paramref name="bzImagePath"/> to <paramref name="outputPath"/>.</summary>
    public static async Task ExtractAsync(ICommandRunner runner, string bzImagePath, string outputPath, CancellationToken ct)
    {
        var image = await File.ReadAllBytesAsync(bzImagePath, ct).ConfigureAwait(false);
        // Work next to the output so the final move is a rename, not a 65 MB copy out of /tmp.
        var work = Directory.CreateDirectory(Path.Combine(
            Path.GetDirectoryName(Path.GetFullPath(outputPath))!, $".vmlinux-work-{Guid.NewGuid():N}"));
        try
        {
            var payload = Path.Combine(work.FullName, "payload.xz");
            var decompressed = Path.Combine(work.FullName, "payload");
            var start = 0;
            while (true)
            {
                var found = image.AsSpan(start).IndexOf(XzMagic);
                if (found < 0)
                {
                    break;
                }

                var offset = start + found;
                start = offset + 1;
                await File.WriteAllBytesAsync(payload, image.AsMemory(offset), ct).ConfigureAwait(false);
                File.Delete(decompressed);

                // --single-stream: the xz stream is followed by the size trailer and other bzImage data.
                var result = await HostTools.RunAsync(runner, "xz", ["-d", "-k", "-f", "-q", "--single-stream", payload], work.FullName, ct)
                    .ConfigureAwait(false);
                if (result.ExitCode == 0 && File.Exists(decompressed) && StartsWithElf(decompressed))
                {
                    File.Move(decompressed, outputPath, overwrite: true);
                    return;
                }
            }

            throw new GuestImageException(
                $"no XZ-compressed ELF kernel found in {bzImagePath} — the kernel must be built with CONFIG_KERNEL_XZ (Debian's linux-image-*-amd64 is)");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static bool StartsWithElf(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var file = File.OpenRead(path);
        return file.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && head.SequenceEqual(ElfMagic);
    }
}
