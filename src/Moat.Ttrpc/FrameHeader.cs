using System.Buffers.Binary;

namespace Moat.Ttrpc;

/// <summary>
/// The 10-byte ttrpc frame header: data length (uint32 BE), stream id (uint32 BE),
/// message type (byte), flags (byte).
/// </summary>
internal readonly record struct FrameHeader(uint Length, uint StreamId, MessageType Type, FrameFlags Flags)
{
    public const int Size = 10;

    /// <summary>Largest accepted data length (4 MiB).</summary>
    public const int MaxDataLength = 4 << 20;

    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"destination must hold at least {Size} bytes", nameof(destination));
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], StreamId);
        destination[8] = (byte)Type;
        destination[9] = (byte)Flags;
    }

    public static FrameHeader ReadFrom(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            throw new ArgumentException($"source must hold at least {Size} bytes", nameof(source));
        }

        return new FrameHeader(
            BinaryPrimitives.ReadUInt32BigEndian(source),
            BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
            (MessageType)source[8],
            (FrameFlags)source[9]);
    }

    /// <summary>Throws <see cref="InvalidDataException"/> if the header cannot be accepted.</summary>
    public void Validate()
    {
        if (Length > MaxDataLength)
        {
            throw new InvalidDataException(
                $"frame length {Length} on stream {StreamId} exceeds the maximum of {MaxDataLength} bytes");
        }

        if (Type is not (MessageType.Request or MessageType.Response or MessageType.Data))
        {
            throw new InvalidDataException($"unknown frame type 0x{(byte)Type:x2} on stream {StreamId}");
        }
    }
}
