using System.IO.Pipelines;

namespace Moat.Ttrpc.Tests;

/// <summary>In-memory transports for client/server tests.</summary>
internal static class TestStreams
{
    /// <summary>Two cross-connected in-memory pipes: (client input, client output, server input, server output).</summary>
    public static (Stream ClientIn, Stream ClientOut, Stream ServerIn, Stream ServerOut) CreatePipePair()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        return (toClient.Reader.AsStream(), toServer.Writer.AsStream(), toServer.Reader.AsStream(), toClient.Writer.AsStream());
    }
}

/// <summary>A read-only stream that returns at most one byte per read.</summary>
internal sealed class OneByteStream(byte[] data) : Stream
{
    private int _position;

    public int ReadCount { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => data.Length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ReadCount++;
        if (_position >= data.Length || buffer.Length == 0)
        {
            return 0;
        }

        buffer[0] = data[_position++];
        return 1;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        return Read(buffer.Span);
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
