using System.Text;

namespace Moat.Fuzz.Targets;

/// <summary>
/// QEMU's end of the QMP socket, replaying the fuzz input line by line in step with the client, as
/// QEMU only answers what it was asked: blank lines, the greeting and event lines (those naming
/// <c>"event"</c>) flow freely; a line with <c>"id": N</c> waits until the client has sent its N-th command (ids
/// are 1, 2, ... in sending order); any other line waits for one more command than the lines
/// released so far. Without that the reader would outrun the writer and every reply would arrive
/// before its command. A line is let through at once when waiting cannot help: the client's last
/// command has had no answer yet, so it sends nothing more (an input that answers out of order).
/// <see cref="ReleaseAll"/> ends the conversation: the rest flows, then end of stream.
/// </summary>
internal sealed class QmpPeerStream : Stream
{
    private const int ChunkBytes = 4096;

    /// <summary>Commands the QMP target sends (qmp_capabilities and its script); a higher id is answered at once.</summary>
    private const int MaxCommands = 6;
    private static readonly TimeSpan FallbackWait = TimeSpan.FromMilliseconds(500);

    /// <summary>After this many waits in vain the rest flows at once, so no input waits long.</summary>
    private const int MaxFallbacks = 3;

    private readonly byte[] _data;
    private readonly SemaphoreSlim _changed = new(0);
    private int _position;
    private int _lineEnd;
    private bool _greeted;
    private int _fallbacks;
    private int _gatedReleased;
    private readonly HashSet<int> _answered = [];
    private int _writes;
    private volatile bool _releaseAll;

    public QmpPeerStream(byte[] data) => _data = data;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Lets every remaining line through (the client has nothing more to ask).</summary>
    public void ReleaseAll()
    {
        _releaseAll = true;
        _changed.Release();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position == _data.Length)
        {
            return 0;
        }

        if (_position == _lineEnd)
        {
            // The next line: find its end, and wait for a command if it is an answer.
            var nl = _data.AsSpan(_position).IndexOf((byte)'\n');
            _lineEnd = nl < 0 ? _data.Length : _position + nl + 1;
            var line = _data.AsSpan(_position, _lineEnd - _position);
            if (line.Trim(" \t\r\n"u8).IsEmpty)
            {
                // the client skips blank lines
            }
            else if (!_greeted)
            {
                _greeted = true; // the first line that is not blank is the greeting
            }
            else if (!line.ContainsEvent())
            {
                var id = line.ReplyId();
                var reply = line.LooksLikeReply();
                var needed = id is { } named and <= MaxCommands ? named : _gatedReleased + 1;
                while (!_releaseAll && _fallbacks < MaxFallbacks)
                {
                    var writes = Volatile.Read(ref _writes);
                    if (writes >= needed)
                    {
                        break;
                    }

                    if (writes > 0 && !_answered.Contains(writes))
                    {
                        break; // the client waits on the reply to its last command, and this line is not it
                    }

                    if (!await _changed.WaitAsync(FallbackWait, cancellationToken))
                    {
                        _fallbacks++; // an answer that did not settle its command (no "return" at the top)
                        break;
                    }
                }

                if (reply)
                {
                    _answered.Add(id ?? Volatile.Read(ref _writes));
                }

                _gatedReleased++;
            }
        }

        var n = Math.Min(Math.Min(buffer.Length, _lineEnd - _position), ChunkBytes);
        _data.AsSpan(_position, n).CopyTo(buffer.Span);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _writes);
        _changed.Release();
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

internal static partial class QmpLines
{
    private static readonly byte[] EventKey = Encoding.ASCII.GetBytes("\"event\"");

    public static bool ContainsEvent(this Span<byte> line) => line.IndexOf(EventKey) >= 0;

    /// <summary>A line QmpClient takes for a reply (it has "return" or "error"; a close guess, as the line is not parsed).</summary>
    public static bool LooksLikeReply(this Span<byte> line) => line.IndexOf("\"return\""u8) >= 0 || line.IndexOf("\"error\""u8) >= 0;

    /// <summary>The <c>"id"</c> a reply names, if it names a small whole number.</summary>
    public static int? ReplyId(this Span<byte> line)
    {
        var m = IdRegex().Match(Encoding.Latin1.GetString(line));
        return m.Success ? int.Parse(m.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex("\"id\"\\s*:\\s*([0-9]{1,6})(?![0-9])")]
    private static partial System.Text.RegularExpressions.Regex IdRegex();
}
