using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf;
using Moat.Ttrpc.Protocol;

namespace Moat.Ttrpc;

/// <summary>
/// A ttrpc client over one connection. Unary calls are multiplexed by stream id (odd, from 1,
/// step 2); one reader loop dispatches responses, one writer loop serializes requests.
/// </summary>
public sealed class TtrpcClient : IAsyncDisposable
{
    private readonly FrameConnection _connection;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Response>> _pending = new();
    private long _lastStreamId = -1;

    /// <summary>Creates a client over a duplex stream; the client owns and closes it.</summary>
    public TtrpcClient(Stream stream, Action<string>? log = null)
        : this(stream, stream, log)
    {
    }

    /// <summary>Creates a client over separate read and write streams; the client owns and closes both.</summary>
    public TtrpcClient(Stream input, Stream output, Action<string>? log = null)
    {
        _connection = new FrameConnection(input, output, log, "client", FailPendingCalls);
        _connection.Start(HandleFrame);
    }

    /// <summary>The stream id of the last call issued (0 before the first).</summary>
    public uint LastStreamId => (uint)Math.Max(0, Interlocked.Read(ref _lastStreamId));

    /// <summary>
    /// Issues stream ids after <paramref name="lastUsed"/> (odd): for a connection that continues one
    /// whose server already saw those ids, as when the peer is a VM restored from a snapshot.
    /// </summary>
    public void ContinueAfter(uint lastUsed)
    {
        if (lastUsed % 2 != 1)
        {
            throw new ArgumentOutOfRangeException(nameof(lastUsed), lastUsed, "client stream ids are odd");
        }
        long current;
        do
        {
            current = Interlocked.Read(ref _lastStreamId);
            if (current >= lastUsed)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _lastStreamId, lastUsed, current) != current);
    }

    /// <summary>Why the connection closed (null while it is open).</summary>
    internal Exception? AbortReason => _connection.AbortReason;

    /// <summary>Completes (never faults) when the connection is closed or aborted.</summary>
    public Task Completion => _connection.Completion;

    /// <summary>Connects to a Unix socket; a path starting with '@' names an abstract socket.</summary>
    public static Task<TtrpcClient> ConnectUnixAsync(string path, CancellationToken ct) =>
        ConnectUnixAsync(path, log: null, ct);

    /// <summary>Connects to a Unix socket, logging connection events to <paramref name="log"/>.</summary>
    public static async Task<TtrpcClient> ConnectUnixAsync(string path, Action<string>? log, CancellationToken ct)
    {
        var endPoint = Moat.Linux.UnixSocketPath.ToEndPoint(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(endPoint, ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new TtrpcClient(new NetworkStream(socket, ownsSocket: true), log);
    }

    /// <summary>
    /// Performs a unary call. Throws <see cref="TtrpcException"/> for a non-OK status, a local
    /// deadline (<see cref="StatusCode.DeadlineExceeded"/>), an oversized request
    /// (<see cref="StatusCode.ResourceExhausted"/>) or a closed connection
    /// (<see cref="StatusCode.Unavailable"/>); throws <see cref="OperationCanceledException"/>
    /// when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async Task<TResponse> CallAsync<TRequest, TResponse>(
        string service,
        string method,
        TRequest request,
        MessageParser<TResponse> parser,
        CallOptions? options = null,
        CancellationToken cancellationToken = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(parser);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfClosed();

        var timeout = options?.Timeout;
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            timeout = null;
        }

        if (timeout <= TimeSpan.Zero)
        {
            throw DeadlineExceeded(service, method, timeout.Value);
        }

        var message = new Request
        {
            Service = service,
            Method = method,
            Payload = request.ToByteString(),
            TimeoutNano = timeout is { } t ? Timeouts.ToNanoseconds(t) : 0,
        };
        MetadataConverter.AddTo(message.Metadata, options?.Metadata);

        var size = message.CalculateSize();
        if (size > FrameHeader.MaxDataLength)
        {
            throw new TtrpcException(
                StatusCode.ResourceExhausted,
                $"{service}/{method}: request length {size} exceeds the maximum message size of {FrameHeader.MaxDataLength}");
        }

        var completion = new TaskCompletionSource<Response>(TaskCreationOptions.RunContinuationsAsynchronously);
        uint streamId;
        // A stream id is taken and its frame queued in one step: the peer requires ids to increase
        // on the wire, and two calls racing between the two would send them out of order.
        lock (_sendOrder)
        {
            streamId = NextStreamId();
            var frame = FrameWriter.Encode(streamId, MessageType.Request, FrameFlags.None, message);
            _pending[streamId] = completion;

            // Abort sets its reason before sweeping the table, so either it saw our entry or we see the reason.
            if (_connection.AbortReason is { } reason)
            {
                _pending.TryRemove(streamId, out _);
                throw Closed(reason);
            }

            if (!_connection.Writer.TryEnqueue(frame))
            {
                _pending.TryRemove(streamId, out _);
                throw Closed(_connection.AbortReason ?? new InvalidOperationException("writer completed"));
            }
        }

        using var deadline = timeout is { } d && d < Timeouts.MaxTimer ? new CancellationTokenSource(d) : null;
        using var deadlineRegistration = deadline is null
            ? default
            : deadline.Token.UnsafeRegister(
                _ => Fail(streamId, completion, DeadlineExceeded(service, method, timeout!.Value)),
                null);
        using var cancelRegistration = cancellationToken.UnsafeRegister(
            state =>
            {
                if (_pending.TryRemove(streamId, out _))
                {
                    Abandon(streamId);
                    completion.TrySetCanceled(cancellationToken);
                }
            },
            null);

        var response = await completion.Task.ConfigureAwait(false);
        if (response.Status is { Code: not 0 } status)
        {
            throw new TtrpcException((StatusCode)status.Code, PeerText(status.Message));
        }

        try
        {
            return parser.ParseFrom(response.Payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TtrpcException(StatusCode.Internal, $"{service}/{method}: malformed response payload: {e.Message}", e);
        }
    }

    /// <summary>
    /// Closes the connection. Idempotent: only the first reason is kept. Every pending call
    /// fails with <see cref="StatusCode.Unavailable"/>.
    /// </summary>
    public void Abort(Exception reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        _connection.Abort(reason);
    }

    public ValueTask DisposeAsync()
    {
        _connection.Abort(new ObjectDisposedException(nameof(TtrpcClient), "the ttrpc client was disposed"));
        return new ValueTask(_connection.Completion);
    }

    /// <summary>Longest error message taken from a peer.</summary>
    internal const int MaxPeerMessage = 1024;

    /// <summary>
    /// An error message from the peer, on its way into logs and user-facing errors: one line,
    /// control characters escaped as \xNN, at most <see cref="MaxPeerMessage"/> characters.
    /// </summary>
    internal static string PeerText(string message)
    {
        var b = new System.Text.StringBuilder(Math.Min(message.Length, MaxPeerMessage) + 8);
        foreach (var c in message)
        {
            if (b.Length >= MaxPeerMessage)
            {
                return b.Append("...").ToString();
            }
            if (char.IsControl(c))
            {
                b.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                b.Append(c);
            }
        }
        return b.ToString();
    }

    private static TtrpcException DeadlineExceeded(string service, string method, TimeSpan timeout) =>
        new(StatusCode.DeadlineExceeded, $"{service}/{method}: deadline exceeded after {timeout}");

    private static TtrpcException Closed(Exception reason) =>
        new(StatusCode.Unavailable, $"ttrpc connection closed: {reason.Message}", reason);

    private void ThrowIfClosed()
    {
        if (_connection.AbortReason is { } reason)
        {
            throw Closed(reason);
        }
    }

    private readonly Lock _sendOrder = new();

    private uint NextStreamId()
    {
        var id = Interlocked.Add(ref _lastStreamId, 2);
        if (id > uint.MaxValue)
        {
            throw new TtrpcException(StatusCode.ResourceExhausted, "ttrpc stream ids exhausted; reconnect");
        }

        return (uint)id;
    }

    /// <summary>True if <paramref name="streamId"/> was issued by this client (even if no longer pending).</summary>
    private bool WasIssued(uint streamId) => streamId % 2 == 1 && streamId <= Volatile.Read(ref _lastStreamId);

    private void Fail(uint streamId, TaskCompletionSource<Response> completion, Exception error)
    {
        if (_pending.TryRemove(streamId, out _))
        {
            Abandon(streamId);
            completion.TrySetException(error);
        }
    }

    /// <summary>
    /// Stream ids whose call gave up (deadline, cancellation) and whose reply may still come, once
    /// each. A reply on any other stream is a protocol violation: a peer cannot make this client
    /// parse and drop replies without end. Bounded: the oldest are forgotten.
    /// </summary>
    private readonly ConcurrentDictionary<uint, byte> _abandoned = new();
    private readonly ConcurrentQueue<uint> _abandonedOrder = new();
    private int _lateLogged;

    /// <summary>How many abandoned stream ids may still get a late reply.</summary>
    internal const int MaxAbandoned = 1024;

    private void Abandon(uint streamId)
    {
        _abandoned[streamId] = 0;
        _abandonedOrder.Enqueue(streamId);
        while (_abandonedOrder.Count > MaxAbandoned && _abandonedOrder.TryDequeue(out var oldest))
        {
            _abandoned.TryRemove(oldest, out _);
        }
    }

    private void FailPendingCalls(Exception reason)
    {
        foreach (var streamId in _pending.Keys)
        {
            if (_pending.TryRemove(streamId, out var completion))
            {
                completion.TrySetException(Closed(reason));
            }
        }
    }

    /// <summary>Handles one received frame; false if the connection had to be closed.</summary>
    private bool HandleFrame(Frame frame)
    {
        var streamId = frame.Header.StreamId;
        switch (frame.Header.Type)
        {
            case MessageType.Response:
                if (!_pending.TryRemove(streamId, out var completion))
                {
                    if (_abandoned.TryRemove(streamId, out _))
                    {
                        // The one reply a call that gave up may still get: dropped unread.
                        if (Interlocked.Increment(ref _lateLogged) <= 5)
                        {
                            _connection.Log($"ignoring late response on stream {streamId} (call already cancelled or timed out)");
                        }
                        return true;
                    }
                    _connection.Abort(new InvalidDataException(WasIssued(streamId)
                        ? $"second or unexpected response on stream {streamId}"
                        : $"response for unknown stream {streamId}"));
                    return false;
                }

                Response response;
                try
                {
                    response = Response.Parser.ParseFrom(frame.Data);
                }
                catch (InvalidProtocolBufferException e)
                {
                    var reason = new InvalidDataException($"malformed response on stream {streamId}: {e.Message}", e);
                    completion.TrySetException(Closed(reason));
                    _connection.Abort(reason);
                    return false;
                }

                completion.TrySetResult(response);
                return true;

            case MessageType.Data:
                // Only unary calls are made: stream data is a protocol violation, not something to drop forever.
                if (_pending.TryRemove(streamId, out var streaming))
                {
                    streaming.TrySetException(new TtrpcException(
                        StatusCode.Unimplemented, "server sent stream data on a unary call; streaming is not supported"));
                }
                _connection.Abort(new InvalidDataException($"unexpected data frame on stream {streamId}: streaming calls are not supported"));
                return false;

            default:
                _connection.Abort(new InvalidDataException($"unexpected {frame.Header.Type} frame from server on stream {streamId}"));
                return false;
        }
    }
}
