namespace Moat.Ttrpc.Tests;

public sealed class FrameReaderTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task FramesSplitAcrossOneByteReads_AreReassembled()
    {
        var first = Frames.Request(1, "svc", "M", "hello");
        var second = Frames.Raw(3, 3, 3, 1, [7, 8, 9]);
        var stream = new OneByteStream(Frames.Concat(first, second));
        var reader = new FrameReader(stream);

        var a = await reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Limit);
        var b = await reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Limit);
        var end = await reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Limit);

        Assert.NotNull(a);
        Assert.Equal(MessageType.Request, a.Value.Header.Type);
        Assert.Equal(first[FrameHeader.Size..], a.Value.Data);
        Assert.NotNull(b);
        Assert.Equal(new FrameHeader(3, 3, MessageType.Data, FrameFlags.RemoteClosed), b.Value.Header);
        Assert.Equal(new byte[] { 7, 8, 9 }, b.Value.Data);
        Assert.Null(end);
        Assert.True(stream.ReadCount > first.Length + second.Length, "the stream really was read one byte at a time");
    }

    [Fact]
    public async Task TwoFramesInOneRead_AreBothReturned()
    {
        var bytes = Frames.Concat(Frames.Raw(2, 1, 1, 0, [1, 2]), Frames.Raw(0, 3, 2, 0));
        var reader = new FrameReader(new MemoryStream(bytes));

        var a = await reader.ReadAsync(CancellationToken.None);
        var b = await reader.ReadAsync(CancellationToken.None);

        Assert.Equal(new FrameHeader(2, 1, MessageType.Request, FrameFlags.None), a!.Value.Header);
        Assert.Equal(new byte[] { 1, 2 }, a.Value.Data);
        Assert.Equal(new FrameHeader(0, 3, MessageType.Response, FrameFlags.None), b!.Value.Header);
        Assert.Empty(b.Value.Data);
        Assert.Null(await reader.ReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task FrameLargerThanBuffer_IsReadCompletely()
    {
        var data = new byte[FrameReader.BufferSize * 3 + 17];
        Random.Shared.NextBytes(data);
        var bytes = Frames.Concat(Frames.Raw((uint)data.Length, 5, 3, 0, data), Frames.Raw(1, 7, 3, 0, [42]));
        var reader = new FrameReader(new MemoryStream(bytes));

        var a = await reader.ReadAsync(CancellationToken.None);
        var b = await reader.ReadAsync(CancellationToken.None);

        Assert.Equal(data, a!.Value.Data);
        Assert.Equal(new byte[] { 42 }, b!.Value.Data);
    }

    [Fact]
    public async Task OversizeLength_IsRejectedBeforeAllocating()
    {
        var reader = new FrameReader(new MemoryStream(Frames.Raw(0x7fffffff, 1, 1, 0)));

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => reader.ReadAsync(CancellationToken.None).AsTask());
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("exceeds", error.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
    }

    [Fact]
    public async Task EndOfStreamInsideHeaderOrData_Throws()
    {
        var partialHeader = new FrameReader(new MemoryStream([0, 0, 0]));
        await Assert.ThrowsAsync<EndOfStreamException>(() => partialHeader.ReadAsync(CancellationToken.None).AsTask());

        var partialData = new FrameReader(new MemoryStream(Frames.Raw(5, 1, 3, 0, [1, 2])));
        await Assert.ThrowsAsync<EndOfStreamException>(() => partialData.ReadAsync(CancellationToken.None).AsTask());
    }

    [Fact]
    public void Encode_RejectsOversizeMessage()
    {
        var big = new Google.Protobuf.WellKnownTypes.BytesValue
        {
            Value = Google.Protobuf.ByteString.CopyFrom(new byte[FrameHeader.MaxDataLength]),
        };

        var error = Assert.Throws<TtrpcException>(() => FrameWriter.Encode(1, MessageType.Request, FrameFlags.None, big));
        Assert.Equal(StatusCode.ResourceExhausted, error.Code);
    }
}
