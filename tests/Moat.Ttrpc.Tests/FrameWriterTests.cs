using Google.Protobuf;
using Moat.Ttrpc.Protocol;

namespace Moat.Ttrpc.Tests;

public sealed class FrameWriterTests
{
    /// <summary>Payload sizes on each side of a varint length's byte boundaries, and none.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(127)]
    [InlineData(16380)]
    [InlineData(16381)]
    [InlineData(1 << 20)]
    public void AnOkResponseEncodedDirectlyIsByteForByteTheResponseMessage(int dataLength)
    {
        // A Response message as payload: its bytes field stands for a container's stdout.
        var data = new byte[dataLength];
        new Random(dataLength).NextBytes(data);
        var payload = new Response { Payload = ByteString.CopyFrom(data) };

        var direct = FrameWriter.EncodeOkResponse(7, payload);
        var viaResponse = FrameWriter.Encode(7, MessageType.Response, FrameFlags.None,
            new Response { Status = new Status { Code = (int)StatusCode.OK }, Payload = payload.ToByteString() });

        Assert.Equal(viaResponse, direct);
        var parsed = Response.Parser.ParseFrom(direct.AsSpan(FrameHeader.Size));
        Assert.Equal(payload, Response.Parser.ParseFrom(parsed.Payload));
        Assert.Equal(direct.Length - FrameHeader.Size, (int)FrameHeader.ReadFrom(direct).Length);
    }

    [Fact]
    public void AnOkResponseLargerThanAFrameIsRefused()
    {
        var payload = new Response { Payload = ByteString.CopyFrom(new byte[FrameHeader.MaxDataLength]) };
        var e = Assert.Throws<TtrpcException>(() => FrameWriter.EncodeOkResponse(1, payload));
        Assert.Equal(StatusCode.ResourceExhausted, e.Code);
    }
}
