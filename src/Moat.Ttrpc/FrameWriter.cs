using System.Threading.Channels;
using Google.Protobuf;

namespace Moat.Ttrpc;

/// <summary>
/// Serializes all outgoing frames of a connection: producers enqueue encoded frames, a single
/// writer loop drains the queue onto the stream and flushes when the queue runs empty.
/// </summary>
internal sealed class FrameWriter
{
    private readonly Stream _stream;
    private readonly Channel<byte[]> _queue = Channel.CreateUnbounded<byte[]>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

    public FrameWriter(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
    }

    /// <summary>
    /// Encodes header and message into one buffer. Throws
    /// <see cref="TtrpcException"/> (<see cref="StatusCode.ResourceExhausted"/>) if the message
    /// exceeds <see cref="FrameHeader.MaxDataLength"/>.
    /// </summary>
    public static byte[] Encode(uint streamId, MessageType type, FrameFlags flags, IMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var size = message.CalculateSize();
        if (size > FrameHeader.MaxDataLength)
        {
            throw new TtrpcException(
                StatusCode.ResourceExhausted,
                $"message length {size} exceeds the maximum message size of {FrameHeader.MaxDataLength}");
        }

        var frame = new byte[FrameHeader.Size + size];
        new FrameHeader((uint)size, streamId, type, flags).WriteTo(frame);
        message.WriteTo(frame.AsSpan(FrameHeader.Size));
        return frame;
    }

    /// <summary>Queues an encoded frame; false once the writer has been completed.</summary>
    public bool TryEnqueue(byte[] frame) => _queue.Writer.TryWrite(frame);

    /// <summary>Stops accepting frames; the loop ends after draining what is queued.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var frame))
            {
                await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            }

            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
