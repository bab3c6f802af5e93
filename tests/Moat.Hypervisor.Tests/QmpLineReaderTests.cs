using System.Text;

namespace Moat.Hypervisor.Tests;

public sealed class QmpLineReaderTests
{
    [Fact]
    public async Task SplitsLines_AcrossTinyReads_StrippingCr()
    {
        var stream = new TrickleStream(Encoding.UTF8.GetBytes("{\"a\":1}\r\n\n{\"b\":2}\nlast"));
        var reader = new QmpLineReader(stream);
        Assert.Equal("{\"a\":1}", await NextAsync(reader));
        Assert.Equal(string.Empty, await NextAsync(reader));
        Assert.Equal("{\"b\":2}", await NextAsync(reader));
        Assert.Equal("last", await NextAsync(reader));
        Assert.Null(await NextAsync(reader));
    }

    [Fact]
    public async Task LongLine_GrowsBuffer()
    {
        string big = new('x', 100_000);
        var reader = new QmpLineReader(new MemoryStream(Encoding.UTF8.GetBytes(big + "\nnext\n")));
        Assert.Equal(big, await NextAsync(reader));
        Assert.Equal("next", await NextAsync(reader));
    }

    [Fact]
    public async Task OversizedLine_IsProtocolError()
    {
        var reader = new QmpLineReader(new MemoryStream(new byte[100_000]), maxLineBytes: 1000);
        await Assert.ThrowsAsync<QmpProtocolException>(() => NextAsync(reader));
    }

    private static async Task<string?> NextAsync(QmpLineReader reader)
    {
        var line = await reader.ReadLineAsync(CancellationToken.None);
        return line is { } l ? Encoding.UTF8.GetString(l.Span) : null;
    }

    /// <summary>Returns at most one byte per read.</summary>
    private sealed class TrickleStream(byte[] data) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(1, buffer.Length)], cancellationToken);
    }
}
