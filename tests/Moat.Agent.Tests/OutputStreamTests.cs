using Moat.Linux;

namespace Moat.Agent.Tests;

public sealed class OutputStreamTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task EveryByteArrivesInOrderThenEof()
    {
        var (read, write) = Pipes.Create();
        Pipes.TryGrow(read, OutputStream.ChunkBytes);
        var stream = new OutputStream(read, "test-out");
        var sent = new byte[5 * OutputStream.ChunkBytes + 12345];
        new Random(1).NextBytes(sent);
        var writer = Task.Run(() =>
        {
            using (write)
            {
                Pipes.WriteAll(write.Fd, sent);
            }
        });
        var got = await DrainAsync(stream, OutputStream.ChunkBytes, untilEof: true);
        await writer;
        Assert.Equal(sent, got);
    }

    [Fact]
    public async Task AReadNeverReturnsMoreThanAskedAndKeepsTheRest()
    {
        var (read, write) = Pipes.Create();
        var stream = new OutputStream(read, "test-out");
        Pipes.WriteAll(write.Fd, new byte[300_000]);
        var first = await stream.ReadAsync(1000, new CancellationTokenSource(Deadline).Token);
        Assert.Equal(1000, first.Data.Length);
        write.Dispose();
        var rest = await DrainAsync(stream, 1000, untilEof: true);
        Assert.Equal(300_000 - 1000, rest.Count);
    }

    [Fact]
    public async Task SmallWritesQueuedTogetherComeInOneResponse()
    {
        var (read, write) = Pipes.Create();
        var stream = new OutputStream(read, "test-out");
        // The pump reads each line on its own only if it is faster than the writes: queue three first.
        for (var i = 0; i < 3; i++)
        {
            Pipes.WriteAll(write.Fd, "line\n"u8);
            await Task.Delay(100);
        }
        write.Dispose();
        await Task.Delay(200);
        var r = await stream.ReadAsync(1 << 20, new CancellationTokenSource(Deadline).Token);
        Assert.Equal("line\nline\nline\n", System.Text.Encoding.ASCII.GetString(r.Data.Span));
        Assert.False(r.Eof);
        Assert.True((await stream.ReadAsync(1 << 20, new CancellationTokenSource(Deadline).Token)).Eof);
    }

    private static async Task<List<byte>> DrainAsync(OutputStream stream, int max, bool untilEof = false)
    {
        var got = new List<byte>();
        using var cts = new CancellationTokenSource(Deadline);
        while (true)
        {
            if (!untilEof && got.Count > 0)
            {
                return got;
            }
            var (data, eof) = await stream.ReadAsync(max, cts.Token);
            Assert.True(data.Length <= max);
            if (eof)
            {
                return got;
            }
            got.AddRange(data.ToArray());
        }
    }
}
