using System.Text;

namespace Moat.Runtime;

/// <summary>
/// Text a process writes that we keep for when something fails, in bounded memory however much
/// arrives: its first <see cref="HeadBytes"/> (where QEMU's own report of a failure is) and its
/// last <see cref="TailBytes"/>, with the count of what was dropped between.
/// </summary>
public sealed class BoundedLog
{
    public const int HeadBytes = 16 * 1024, TailBytes = 16 * 1024;

    private readonly object _lock = new();
    private readonly byte[] _head = new byte[HeadBytes];
    private readonly byte[] _tail = new byte[TailBytes];
    private int _headLength;
    private long _tailWritten;

    /// <summary>Bytes received in all.</summary>
    public long Total { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            Total += data.Length;
            var toHead = Math.Min(data.Length, HeadBytes - _headLength);
            data[..toHead].CopyTo(_head.AsSpan(_headLength));
            _headLength += toHead;
            foreach (var b in data[toHead..])
            {
                _tail[_tailWritten++ % TailBytes] = b;
            }
        }
    }

    /// <summary>The first <paramref name="maxBytes"/> bytes received, as text.</summary>
    public string Head(int maxBytes = HeadBytes)
    {
        lock (_lock)
        {
            return Encoding.UTF8.GetString(_head, 0, Math.Min(maxBytes, _headLength));
        }
    }

    /// <summary>Everything kept: the head, a note of what was dropped, the tail.</summary>
    public override string ToString()
    {
        lock (_lock)
        {
            var text = new StringBuilder(Encoding.UTF8.GetString(_head, 0, _headLength));
            var kept = (int)Math.Min(_tailWritten, TailBytes);
            if (kept == 0)
            {
                return text.ToString();
            }
            var tail = new byte[kept];
            for (var i = 0; i < kept; i++)
            {
                tail[i] = _tail[(_tailWritten - kept + i) % TailBytes];
            }
            var dropped = Total - _headLength - kept;
            if (dropped > 0)
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"\n[... {dropped} bytes dropped ...]\n");
            }
            return text.Append(Encoding.UTF8.GetString(tail)).ToString();
        }
    }
}
