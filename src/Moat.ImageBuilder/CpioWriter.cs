using System.Buffers;
using System.Text;

namespace Moat.ImageBuilder;

/// <summary>
/// Writes a cpio archive in the "newc" format the kernel's initramfs unpacker reads.
/// Deterministic: mtime 0, uid/gid 0, inode numbers from a counter. Does not own the stream.
/// </summary>
internal sealed class CpioWriter
{
    internal const int HeaderSize = 110;

    private const int S_IFDIR = 0x4000;
    private const int S_IFREG = 0x8000;
    private const int S_IFLNK = 0xA000;
    private const int S_IFCHR = 0x2000;

    private readonly Stream _output;
    private uint _nextIno = 1;
    private bool _finished;

    public CpioWriter(Stream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
    }

    public void AddDirectory(string name, int mode = 0x1ED /* 0755 */) =>
        WriteEntry(name, S_IFDIR | (mode & 0xFFF), nlink: 2, ReadOnlySpan<byte>.Empty);

    public void AddFile(string name, ReadOnlySpan<byte> content, int mode = 0x1A4 /* 0644 */) =>
        WriteEntry(name, S_IFREG | (mode & 0xFFF), nlink: 1, content);

    /// <summary>Adds a regular file whose content is read from <paramref name="content"/> (exactly <paramref name="length"/> bytes).</summary>
    public void AddFile(string name, Stream content, long length, int mode = 0x1A4)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (length > uint.MaxValue)
        {
            throw new GuestImageException($"'{name}' is too large for a cpio archive ({length} bytes)");
        }

        WriteHeader(name, S_IFREG | (mode & 0xFFF), nlink: 1, (uint)length, 0, 0);
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            var left = length;
            while (left > 0)
            {
                var n = content.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (n == 0)
                {
                    throw new GuestImageException($"'{name}' changed size while being packed into the initrd");
                }

                _output.Write(buffer, 0, n);
                left -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Pad(length);
    }

    public void AddSymlink(string name, string target) =>
        WriteEntry(name, S_IFLNK | 0x1FF, nlink: 1, Encoding.UTF8.GetBytes(target));

    public void AddCharDevice(string name, int mode, uint major, uint minor)
    {
        WriteHeader(name, S_IFCHR | (mode & 0xFFF), nlink: 1, 0, major, minor);
    }

    /// <summary>Writes the "TRAILER!!!" entry. Nothing may be added afterwards.</summary>
    public void Finish()
    {
        ThrowIfFinished();
        WriteHeader("TRAILER!!!", 0, nlink: 1, 0, 0, 0, ino: 0);
        _finished = true;
    }

    private void WriteEntry(string name, int mode, uint nlink, ReadOnlySpan<byte> data)
    {
        WriteHeader(name, mode, nlink, (uint)data.Length, 0, 0);
        _output.Write(data);
        Pad(data.Length);
    }

    private void WriteHeader(string name, int mode, uint nlink, uint fileSize, uint rdevMajor, uint rdevMinor, uint? ino = null)
    {
        ThrowIfFinished();
        ArgumentException.ThrowIfNullOrEmpty(name);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var namesize = (uint)nameBytes.Length + 1;

        var header = new StringBuilder(HeaderSize);
        header.Append("070701");
        foreach (var field in new[]
                 {
                     ino ?? _nextIno++, (uint)mode, 0u /* uid */, 0u /* gid */, nlink, 0u /* mtime */, fileSize,
                     0u /* devmajor */, 0u /* devminor */, rdevMajor, rdevMinor, namesize, 0u /* check */,
                 })
        {
            header.Append(field.ToString("X8", System.Globalization.CultureInfo.InvariantCulture));
        }

        _output.Write(Encoding.ASCII.GetBytes(header.ToString()));
        _output.Write(nameBytes);
        _output.WriteByte(0);
        Pad(HeaderSize + namesize);
    }

    private void Pad(long length)
    {
        var pad = (int)((4 - (length % 4)) % 4);
        Span<byte> zeros = stackalloc byte[3];
        zeros.Clear();
        _output.Write(zeros[..pad]);
    }

    private void ThrowIfFinished()
    {
        if (_finished)
        {
            throw new InvalidOperationException("the cpio archive is already finished");
        }
    }
}
