using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Moat.Ttrpc.Protocol;

namespace Moat.Ttrpc.Tests;

/// <summary>Helpers to hand-craft wire frames.</summary>
internal static class Frames
{
    public static byte[] Raw(uint length, uint streamId, byte type, byte flags, byte[]? data = null)
    {
        var bytes = new byte[FrameHeader.Size + (data?.Length ?? 0)];
        new FrameHeader(length, streamId, (MessageType)type, (FrameFlags)flags).WriteTo(bytes);
        data?.CopyTo(bytes, FrameHeader.Size);
        return bytes;
    }

    public static byte[] Request(uint streamId, string service, string method, string text, FrameFlags flags = FrameFlags.None) =>
        FrameWriter.Encode(streamId, MessageType.Request, flags, new Request
        {
            Service = service,
            Method = method,
            Payload = new StringValue { Value = text }.ToByteString(),
        });

    public static byte[] Response(uint streamId, string text) =>
        FrameWriter.Encode(streamId, MessageType.Response, FrameFlags.None, new Response
        {
            Status = new Status(),
            Payload = new StringValue { Value = text }.ToByteString(),
        });

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
