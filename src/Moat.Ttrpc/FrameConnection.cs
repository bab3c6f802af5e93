using System.Net.Sockets;

namespace Moat.Ttrpc;

/// <summary>
/// Transport state shared by client and server connections: the frame reader, the writer loop,
/// and an idempotent <see cref="Abort"/> that keeps the first reason and closes the streams.
/// </summary>
internal sealed class FrameConnection
{
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly Action<string>? _log;
    private readonly string _name;
    private readonly Action<Exception>? _onAbort;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _abortReason;

    public FrameConnection(Stream input, Stream output, Action<string>? log, string name, Action<Exception>? onAbort)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        _input = input;
        _output = output;
        _log = log;
        _name = name;
        _onAbort = onAbort;
        Closing = _closing.Token;
        Reader = new FrameReader(input);
        Writer = new FrameWriter(output);
    }

    public FrameReader Reader { get; }

    public FrameWriter Writer { get; }

    /// <summary>Cancelled when the connection is aborted.</summary>
    public CancellationToken Closing { get; }

    /// <summary>Completes (never faults) once the connection has been aborted.</summary>
    public Task Completion => _completion.Task;

    public Exception? AbortReason => Volatile.Read(ref _abortReason);

    /// <summary>Starts the writer loop and the given reader loop on the thread pool.</summary>
    /// <summary>Starts the writer loop and the one reader loop, which hands each frame to <paramref name="handleFrame"/> (false closes the connection).</summary>
    public void Start(Func<Frame, bool> handleFrame) => Start(() => ReadLoopAsync(handleFrame));

    private async Task ReadLoopAsync(Func<Frame, bool> handleFrame)
    {
        while (true)
        {
            var frame = await Reader.ReadAsync(Closing).ConfigureAwait(false);
            if (frame is null)
            {
                Abort(new EndOfStreamException("connection closed by peer"));
                return;
            }

            if (!handleFrame(frame.Value))
            {
                return;
            }
        }
    }

    private void Start(Func<Task> readLoop)
    {
        _ = Task.Run(RunWriterAsync);
        _ = Task.Run(async () =>
        {
            try
            {
                await readLoop().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Abort(e);
            }
        });
    }

    public void Log(string message) => _log?.Invoke($"ttrpc {_name}: {message}");

    /// <summary>Closes the connection. Only the first call has an effect; returns whether it was that call.</summary>
    public bool Abort(Exception reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        if (Interlocked.CompareExchange(ref _abortReason, reason, null) is not null)
        {
            return false;
        }

        Log($"closing connection: {reason.Message}");
        Writer.Complete();
        try
        {
            _closing.Cancel();
        }
        catch (AggregateException e)
        {
            Log($"cancellation callback failed: {e.InnerException?.Message ?? e.Message}");
        }

        try
        {
            _onAbort?.Invoke(reason);
        }
        finally
        {
            CloseStreams();
            _completion.TrySetResult();
        }

        return true;
    }

    private async Task RunWriterAsync()
    {
        try
        {
            await Writer.RunAsync(Closing).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Abort(new IOException($"write failed: {e.Message}", e));
        }
    }

    private void CloseStreams()
    {
        Close(_input);
        if (!ReferenceEquals(_input, _output))
        {
            Close(_output);
        }
    }

    private void Close(Stream stream)
    {
        try
        {
            if (stream is NetworkStream network)
            {
                // Graceful FIN to the peer and wake up any pending receive.
                network.Socket.Shutdown(SocketShutdown.Both);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed or reset by the peer.
        }

        try
        {
            stream.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or UnauthorizedAccessException)
        {
            Log($"error closing stream: {e.Message}");
        }
    }
}
