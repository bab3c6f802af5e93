using System.Buffers.Binary;
using System.Text;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Agent;

/// <summary>
/// The program the kernel loads to run a file: an ELF's PT_INTERP (its dynamic loader) or a
/// script's <c>#!</c> line. execve answers "No such file or directory" both when the file is
/// missing and when that program is, so create names the missing one instead.
/// </summary>
internal static class ExecInterpreter
{
    /// <summary>How much of the file is read: the ELF header, its program headers and the loader's path lie well within it.</summary>
    private const int HeadBytes = 8192;

    private const uint PtInterp = 3;
    private static ReadOnlySpan<byte> ElfMagic => [0x7f, (byte)'E', (byte)'L', (byte)'F'];
    private const int ShebangMax = 256;

    /// <summary>The interpreter named by the regular file at <paramref name="path"/>, or null (none, unreadable, not a regular file).</summary>
    public static string? Of(string path)
    {
        // Non-blocking, so a FIFO or device named as the program is never waited on.
        var fd = Libc.open(path, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }
        try
        {
            var head = new byte[HeadBytes];
            var n = 0;
            while (n < head.Length)
            {
                int got;
                try
                {
                    got = Pipes.Read(fd, head.AsSpan(n));
                }
                catch (ErrnoException)
                {
                    return null;
                }
                if (got <= 0)
                {
                    break;
                }
                n += got;
            }
            return Of(head.AsSpan(0, n));
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>The interpreter named by a file's first bytes, or null.</summary>
    public static string? Of(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("#!"u8))
        {
            var line = head[2..Math.Min(head.Length, ShebangMax)];
            var end = line.IndexOfAny((byte)'\n', (byte)'\0');
            line = end >= 0 ? line[..end] : line;
            var text = Encoding.UTF8.GetString(line).Trim(' ', '\t', '\r');
            var program = text.Split([' ', '\t'], 2)[0];
            return program.Length > 0 ? program : null;
        }
        if (head.Length < 0x40 || !head.StartsWith(ElfMagic) || head[5] != 1 /* little-endian */)
        {
            return null;
        }
        var is64 = head[4] == 2;
        // Every offset and size is the file's word, checked in unsigned arithmetic against what was read.
        ulong phoff = is64 ? BinaryPrimitives.ReadUInt64LittleEndian(head[0x20..]) : BinaryPrimitives.ReadUInt32LittleEndian(head[0x1C..]);
        ulong phentsize = BinaryPrimitives.ReadUInt16LittleEndian(head[(is64 ? 0x36 : 0x2A)..]);
        ulong phnum = BinaryPrimitives.ReadUInt16LittleEndian(head[(is64 ? 0x38 : 0x2C)..]);
        var read = (ulong)head.Length;
        if (phentsize < (is64 ? 0x38u : 0x20u) || phoff > read || phnum * phentsize > read - phoff)
        {
            return null; // outside what was read: not judged
        }
        for (ulong i = 0; i < phnum; i++)
        {
            var ph = head.Slice((int)(phoff + i * phentsize), (int)phentsize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != PtInterp)
            {
                continue;
            }
            ulong offset = is64 ? BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]);
            ulong size = is64 ? BinaryPrimitives.ReadUInt64LittleEndian(ph[0x20..]) : BinaryPrimitives.ReadUInt32LittleEndian(ph[16..]);
            if (size == 0 || offset > read || size > read - offset)
            {
                return null;
            }
            var name = head.Slice((int)offset, (int)size);
            var nul = name.IndexOf((byte)0);
            return Encoding.UTF8.GetString(nul >= 0 ? name[..nul] : name) is { Length: > 0 } s ? s : null;
        }
        return null;
    }
}
