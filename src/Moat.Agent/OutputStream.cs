using System.Buffers;
using System.IO.Pipelines;
using Moat.Linux;

namespace Moat.Agent;

/// <summary>
/// A process's stdout, stderr or pty master: a thread reads the fd into a bounded pipe (the
/// process blocks when the host reads slower than it writes) and ReadStdout/ReadStderr drain it.
/// </summary>
internal sealed class OutputStream
{
    /// <summary>The most one read of the process's pipe takes, and the size asked for that pipe.</summary>
    public const int ChunkBytes = 1 << 20;

    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 2 * ChunkBytes, resumeWriterThreshold: ChunkBytes, useSynchronizationContext: false));
    private readonly SemaphoreSlim _readLock = new(1, 1);
    private readonly SafeFd _fd;

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
            while (true)
            {
                var mem = _pipe.Writer.GetMemory(ChunkBytes);
                int n;
                try
                {
                    n = Pipes.Read(_fd.Fd, mem.Span);
                }
                catch (ErrnoException e) when (e.Errno == Moat.Linux.Interop.Libc.EIO /* pty slave closed */)
                {
                    n = 0;
                }
                if (n == 0)
                {
                    break;
                }
                _pipe.Writer.Advance(n);
                var flush = _pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
                if (flush.IsCompleted)
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
            _pipe.Writer.Complete();
            _fd.Dispose();
        }
    }

    /// <summary>Up to <paramref name="max"/> bytes, waiting for at least one; empty + eof once drained.</summary>
    public async Task<(byte[] Data, bool Eof)> ReadAsync(int max, CancellationToken ct)
    {
        await _readLock.WaitAsync(ct);
        try
        {
            var result = await _pipe.Reader.ReadAsync(ct);
            var buffer = result.Buffer;
            if (buffer.IsEmpty && result.IsCompleted)
            {
                _pipe.Reader.AdvanceTo(buffer.End);
                return ([], true);
            }
            var take = buffer.Slice(0, Math.Min(buffer.Length, max));
            var data = take.ToArray();
            _pipe.Reader.AdvanceTo(take.End);
            return (data, false);
        }
        finally
        {
            _readLock.Release();
        }
    }
}
