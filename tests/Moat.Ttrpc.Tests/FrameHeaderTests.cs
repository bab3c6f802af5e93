namespace Moat.Ttrpc.Tests;

public sealed class FrameHeaderTests
{
    [Fact]
    public void RoundTrip_PreservesAllFields()
    {
        var header = new FrameHeader(0x00123456, 0x89abcdef, MessageType.Data, FrameFlags.RemoteClosed | FrameFlags.NoData);
        var bytes = new byte[FrameHeader.Size];
        header.WriteTo(bytes);

        Assert.Equal(header, FrameHeader.ReadFrom(bytes));
    }

    [Fact]
    public void Encoding_IsBigEndianWithTypeAndFlagsLast()
    {
        var bytes = new byte[FrameHeader.Size];
        new FrameHeader(0x01020304, 0x05060708, MessageType.Response, FrameFlags.RemoteOpen).WriteTo(bytes);

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 2, 2 }, bytes);
    }

    [Fact]
    public void Validate_AcceptsMaximumLength()
    {
        new FrameHeader(FrameHeader.MaxDataLength, 1, MessageType.Request, FrameFlags.None).Validate();
    }

    [Theory]
    [InlineData(FrameHeader.MaxDataLength + 1u, 1)]
    [InlineData(0x7fffffffu, 1)]
    [InlineData(0u, 0)]
    [InlineData(0u, 4)]
    [InlineData(0u, 0xff)]
    public void Validate_RejectsOversizeOrUnknownType(uint length, byte type)
    {
        var header = new FrameHeader(length, 1, (MessageType)type, FrameFlags.None);
        Assert.Throws<InvalidDataException>(header.Validate);
    }

    [Fact]
    public void Constants_MatchSpec()
    {
        Assert.Equal(4 * 1024 * 1024, FrameHeader.MaxDataLength);
        Assert.Equal(10, FrameHeader.Size);
    }
}
