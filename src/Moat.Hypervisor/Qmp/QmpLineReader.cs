namespace Moat.Hypervisor;

/// <summary>
/// Splits a byte stream into '\n'-terminated lines (a trailing '\r' is stripped). Not thread-safe:
/// the returned memory is only valid until the next call.
/// </summary>
internal sealed class QmpLineReader
{
    /// <summary>Largest accepted line; query-qmp-schema alone is a few hundred KiB.</summary>
    internal const int DefaultMaxLineBytes = 16 * 1024 * 1024;

    private readonly Stream _stream;
    private readonly int _maxLineBytes;
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;
    private int _scanned;

    public QmpLineReader(Stream stream, int maxLineBytes = DefaultMaxLineBytes)
    {
        _stream = stream;
        _maxLineBytes = maxLineBytes;
    }

    /// <summary>Returns the next line without its terminator, or <c>null</c> at end of stream.</summary>
    /// <remarks>Bytes after the last '\n' at end of stream are returned as a final line.</remarks>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadLineAsync(CancellationToken ct)
    {
        while (true)
        {
            int nl = _buffer.AsSpan(_scanned, _end - _scanned).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                int lineEnd = _scanned + nl;
                var line = TrimCr(_buffer.AsMemory(_start, lineEnd - _start));
                _start = _scanned = lineEnd + 1;
                return line;
            }

            _scanned = _end;
            if (_end - _start > _maxLineBytes)
            {
                throw new QmpProtocolException($"QMP: line exceeds {_maxLineBytes} bytes without a newline");
            }

            MakeRoom();
            int n = await _stream.ReadAsync(_buffer.AsMemory(_end), ct).ConfigureAwait(false);
            if (n == 0)
            {
                if (_end == _start)
                {
                    return null;
                }

                var tail = TrimCr(_buffer.AsMemory(_start, _end - _start));
                _start = _scanned = _end;
                return tail;
            }

            _end += n;
        }
    }

    private void MakeRoom()
    {
        if (_start > 0)
        {
            int len = _end - _start;
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, len);
            _scanned -= _start;
            _end = len;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
    }

    private static ReadOnlyMemory<byte> TrimCr(ReadOnlyMemory<byte> line) =>
        line.Length > 0 && line.Span[^1] == (byte)'\r' ? line[..^1] : line;
}
