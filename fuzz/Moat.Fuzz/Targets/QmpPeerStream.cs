using System.Text;

namespace Moat.Fuzz.Targets;

/// <summary>
/// QEMU's end of the QMP socket, replaying the fuzz input line by line in step with the client:
/// the greeting and event lines (those naming <c>"event"</c>) flow freely, and each other line
/// (a reply, or garbage) waits until the client has sent a command it has not yet seen a line
/// for, as QEMU only answers what it was asked. Without that the reader would outrun the writer
/// and every reply would arrive before its command. A line released for a command that does not
/// settle it (a wrong id) lets the next one through after a short wait, and
/// <see cref="ReleaseAll"/> ends the conversation: the rest flows, then end of stream.
/// </summary>
internal sealed class QmpPeerStream : Stream
{
    private const int ChunkBytes = 4096;
    private static readonly TimeSpan StallWait = TimeSpan.FromMilliseconds(10);

    private readonly byte[] _data;
    private readonly SemaphoreSlim _changed = new(0);
    private int _position;
    private int _lineEnd;
    private int _lines;
    private int _gatedReleased;
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
            var gated = _lines++ > 0 && !_data.AsSpan(_position, _lineEnd - _position).ContainsEvent();
            if (gated)
            {
                while (!_releaseAll && Volatile.Read(ref _writes) <= _gatedReleased)
                {
                    if (!await _changed.WaitAsync(StallWait, cancellationToken))
                    {
                        break; // the client waits on a reply that the last line did not give
                    }
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

internal static class QmpLines
{
    private static readonly byte[] EventKey = Encoding.ASCII.GetBytes("\"event\"");

    public static bool ContainsEvent(this Span<byte> line) => line.IndexOf(EventKey) >= 0;
}
