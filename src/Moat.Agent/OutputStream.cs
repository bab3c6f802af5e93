using System.Threading.Channels;
using Moat.Linux;

namespace Moat.Agent;

/// <summary>
/// A process's stdout, stderr or pty master: a thread reads the fd into a bounded queue of chunks
/// (the process blocks when the host reads slower than it writes) and ReadStdout/ReadStderr drain
/// it. A large chunk goes out in the response as it was read, without a copy: under software
/// emulation every copy of a MiB costs the guest milliseconds.
/// </summary>
internal sealed class OutputStream
{
    /// <summary>The most one read of the process's pipe takes, and the size asked for that pipe.</summary>
    public const int ChunkBytes = 1 << 20;

    /// <summary>A read at least this large keeps its buffer (the pump takes a new one); a smaller one is copied out.</summary>
    private const int KeptChunkBytes = ChunkBytes / 4;

    /// <summary>Chunks read and not yet sent: with the process's own 1 MiB pipe, what a process may write ahead of the host.</summary>
    private const int QueuedChunks = 4;

    private readonly Channel<ReadOnlyMemory<byte>> _chunks = Channel.CreateBounded<ReadOnlyMemory<byte>>(
        new BoundedChannelOptions(QueuedChunks) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly SemaphoreSlim _readLock = new(1, 1);
    private readonly SafeFd _fd;

    /// <summary>What a read smaller than a chunk left of it (guarded by <see cref="_readLock"/>).</summary>
    private ReadOnlyMemory<byte> _rest;

    public OutputStream(SafeFd fd, string name)
    {
        _fd = fd;
        var t = new Thread(Pump) { IsBackground = true, Name = name };
        t.Start();
    }

    private void Pump()
    {
        try
        {
            // Not cleared: read(2) writes what is then sent, and nothing else of it is.
            var buffer = GC.AllocateUninitializedArray<byte>(ChunkBytes);
            while (true)
            {
                int n;
                try
                {
                    n = Pipes.Read(_fd.Fd, buffer);
                }
                catch (ErrnoException e) when (e.Errno == Moat.Linux.Interop.Libc.EIO /* pty slave closed */)
                {
                    n = 0;
                }
                if (n == 0)
                {
                    break;
                }
                ReadOnlyMemory<byte> chunk;
                if (n >= KeptChunkBytes)
                {
                    chunk = buffer.AsMemory(0, n);
                    buffer = GC.AllocateUninitializedArray<byte>(ChunkBytes);
                }
                else
                {
                    chunk = buffer.AsSpan(0, n).ToArray();
                }
                if (!_chunks.Writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult() || !_chunks.Writer.TryWrite(chunk))
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            Log.Verbose($"output pump {Thread.CurrentThread.Name}: {e.Message}");
        }
        finally
        {
            _chunks.Writer.TryComplete();
            _fd.Dispose();
        }
    }

    /// <summary>
    /// Up to <paramref name="max"/> bytes, waiting for at least one; empty + eof once drained. The
    /// memory is this call's alone: it may be wrapped, not copied.
    /// </summary>
    public async Task<(ReadOnlyMemory<byte> Data, bool Eof)> ReadAsync(int max, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        await _readLock.WaitAsync(ct);
        try
        {
            if (_rest.IsEmpty)
            {
                if (!await _chunks.Reader.WaitToReadAsync(ct) || !_chunks.Reader.TryRead(out _rest))
                {
                    return (ReadOnlyMemory<byte>.Empty, true);
                }
            }
            var first = Take(max);
            // Small chunks queued behind it go in the same response (copying a few bytes is cheap; a round trip is not).
            if (first.Length >= max || !_chunks.Reader.TryPeek(out var next) || first.Length + next.Length > max)
            {
                return (first, false);
            }
            var parts = new List<ReadOnlyMemory<byte>> { first };
            var total = first.Length;
            while (_chunks.Reader.TryPeek(out next) && total + next.Length <= max && _chunks.Reader.TryRead(out next))
            {
                parts.Add(next);
                total += next.Length;
            }
            var data = GC.AllocateUninitializedArray<byte>(total);
            var at = 0;
            foreach (var p in parts)
            {
                p.Span.CopyTo(data.AsSpan(at));
                at += p.Length;
            }
            return (data, false);
        }
        finally
        {
            _readLock.Release();
        }
    }

    private ReadOnlyMemory<byte> Take(int max)
    {
        var take = _rest[..Math.Min(_rest.Length, max)];
        _rest = _rest[take.Length..];
        return take;
    }
}
