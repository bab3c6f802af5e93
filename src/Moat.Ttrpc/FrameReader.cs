namespace Moat.Ttrpc;

/// <summary>
/// Reads frames from a stream through an internal buffer, so a frame may arrive split across
/// many reads and many frames may arrive in one read. Not thread-safe: one reader loop only.
/// </summary>
internal sealed class FrameReader
{
    internal const int BufferSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _start;
    private int _end;

    public FrameReader(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
    }

    private int Buffered => _end - _start;

    /// <summary>
    /// Reads the next frame. Returns <c>null</c> on a clean end of stream (between frames).
    /// Throws <see cref="InvalidDataException"/> for an unacceptable header (checked before the
    /// data buffer is allocated) and <see cref="EndOfStreamException"/> for a truncated frame.
    /// </summary>
    public async ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(FrameHeader.Size, cancellationToken).ConfigureAwait(false))
        {
            if (Buffered == 0)
            {
                return null;
            }

            throw new EndOfStreamException(
                $"end of stream inside a frame header ({Buffered} of {FrameHeader.Size} bytes)");
        }

        var header = FrameHeader.ReadFrom(_buffer.AsSpan(_start, FrameHeader.Size));
        _start += FrameHeader.Size;
        header.Validate();

        var data = header.Length == 0 ? [] : new byte[header.Length];
        var filled = 0;
        while (filled < data.Length)
        {
            var remaining = data.Length - filled;
            if (Buffered == 0)
            {
                _start = _end = 0;
                if (remaining >= _buffer.Length)
                {
                    // Large remainder: read straight into the frame, skipping the copy.
                    filled += await ReadSomeAsync(data.AsMemory(filled), header, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                _end = await ReadSomeAsync(_buffer, header, cancellationToken).ConfigureAwait(false);
            }

            var take = Math.Min(remaining, Buffered);
            _buffer.AsSpan(_start, take).CopyTo(data.AsSpan(filled));
            _start += take;
            filled += take;
        }

        if (Buffered == 0)
        {
            _start = _end = 0;
        }

        return new Frame(header, data);
    }

    private async ValueTask<int> ReadSomeAsync(Memory<byte> destination, FrameHeader header, CancellationToken cancellationToken)
    {
        var read = await _stream.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            throw new EndOfStreamException(
                $"end of stream inside the data of a {header.Length}-byte frame on stream {header.StreamId}");
        }

        return read;
    }

    /// <summary>Ensures at least <paramref name="count"/> bytes are buffered; false on end of stream.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (Buffered >= count)
        {
            return true;
        }

        if (_buffer.Length - _start < count)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, Buffered);
            _end = Buffered;
            _start = 0;
        }

        while (Buffered < count)
        {
            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return false;
            }

            _end += read;
        }

        return true;
    }
}
