using System.Threading.Channels;
using Google.Protobuf;
using Moat.Ttrpc.Protocol;

namespace Moat.Ttrpc;

/// <summary>
/// Serializes all outgoing frames of a connection: producers enqueue encoded frames, a single
/// writer loop drains the queue onto the stream and flushes when the queue runs empty.
/// </summary>
internal sealed class FrameWriter
{
    private readonly Stream _stream;
    private readonly Channel<Outgoing> _queue = Channel.CreateUnbounded<Outgoing>(
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
        var frame = NewFrame(streamId, type, flags, size);
        message.WriteTo(frame.AsSpan(FrameHeader.Size));
        return frame;
    }

    /// <summary>A frame with its header written and <paramref name="size"/> bytes of body to fill; throws past the maximum.</summary>
    private static byte[] NewFrame(uint streamId, MessageType type, FrameFlags flags, long size)
    {
        if (size > FrameHeader.MaxDataLength)
        {
            throw new TtrpcException(
                StatusCode.ResourceExhausted,
                $"message length {size} exceeds the maximum message size of {FrameHeader.MaxDataLength}");
        }

        // Every byte is written by the caller: no need to clear a buffer that may be a MiB of stdout.
        var frame = GC.AllocateUninitializedArray<byte>(FrameHeader.Size + (int)size);
        new FrameHeader((uint)size, streamId, type, flags).WriteTo(frame);
        return frame;
    }

    /// <summary>The OK status of every successful response, encoded once.</summary>
    private static readonly byte[] OkStatus = new Response { Status = new Status { Code = (int)StatusCode.OK } }.ToByteArray();

    /// <summary>Response field 2 (payload), length-delimited.</summary>
    private const byte PayloadTag = (2 << 3) | 2;

    /// <summary>
    /// Encodes a successful <see cref="Response"/> whose payload is <paramref name="payload"/>,
    /// serializing the payload message straight into the frame: the bytes it carries (a MiB of a
    /// container's stdout, in a guest whose every copy is emulated) are copied once, not three times.
    /// The bytes equal those of <see cref="Encode"/> for the same response.
    /// </summary>
    public static byte[] EncodeOkResponse(uint streamId, IMessage payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var payloadSize = payload.CalculateSize();
        var lengthSize = CodedOutputStream.ComputeLengthSize(payloadSize);
        // proto3 leaves an empty bytes field out, as Encode would.
        var size = OkStatus.Length + (payloadSize == 0 ? 0 : 1L + lengthSize + payloadSize);
        var frame = NewFrame(streamId, MessageType.Response, FrameFlags.None, size);
        var body = frame.AsSpan(FrameHeader.Size);
        OkStatus.CopyTo(body);
        body = body[OkStatus.Length..];
        if (payloadSize == 0)
        {
            return frame;
        }
        body[0] = PayloadTag;
        WriteVarint(body[1..], (uint)payloadSize);
        payload.WriteTo(body[(1 + lengthSize)..]);
        return frame;
    }

    /// <summary>Protobuf's base-128 varint: seven bits a byte, low first, the high bit set on all but the last.</summary>
    private static void WriteVarint(Span<byte> destination, uint value)
    {
        var i = 0;
        for (; value >= 0x80; value >>= 7)
        {
            destination[i++] = (byte)(value | 0x80);
        }
        destination[i] = (byte)value;
    }

    /// <summary>Queues an encoded frame; false once the writer has been completed.</summary>
    public bool TryEnqueue(byte[] frame) => _queue.Writer.TryWrite(new Outgoing(frame, null));

    /// <summary>
    /// Queues an encoded frame; <paramref name="left"/> runs once the frame has left this writer:
    /// written and flushed, or dropped because the connection closed (then at once if it already
    /// had). It runs on the writer loop and must not block.
    /// </summary>
    public void Enqueue(byte[] frame, Action left)
    {
        if (!_queue.Writer.TryWrite(new Outgoing(frame, left)))
        {
            left();
        }
    }

    /// <summary>Stops accepting frames; the loop ends after draining what is queued.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var reader = _queue.Reader;
        var written = new List<Action>();
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var outgoing))
                {
                    if (outgoing.Left is { } left)
                    {
                        written.Add(left);
                    }
                    await _stream.WriteAsync(outgoing.Frame, cancellationToken).ConfigureAwait(false);
                }

                await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                RunAll(written);
            }
        }
        finally
        {
            // Nothing is written once this loop stops: later frames are refused (their actions run at
            // once), and whatever is still queued is dropped, its actions run now.
            _queue.Writer.TryComplete();
            while (reader.TryRead(out var outgoing))
            {
                if (outgoing.Left is { } left)
                {
                    written.Add(left);
                }
            }
            RunAll(written);
        }
    }

    private static void RunAll(List<Action> actions)
    {
        var todo = actions.ToArray();
        actions.Clear(); // each runs once, whatever another does
        foreach (var a in todo)
        {
            a();
        }
    }

    private readonly record struct Outgoing(byte[] Frame, Action? Left);
}
