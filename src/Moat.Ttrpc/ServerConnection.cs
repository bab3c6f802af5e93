using Google.Protobuf;
using Moat.Ttrpc.Protocol;

namespace Moat.Ttrpc;

/// <summary>
/// Serves one accepted connection: a reader loop that validates frames and dispatches each
/// request to its own task, and the shared writer loop that sends the responses.
/// </summary>
internal sealed class ServerConnection
{
    private readonly MethodRegistry _methods;
    private readonly FrameConnection _connection;
    private readonly Func<Exception, TtrpcException?>? _translate;
    private uint _lastStreamId;

    public ServerConnection(MethodRegistry methods, Stream input, Stream output, Action<string>? log, string name,
        Func<Exception, TtrpcException?>? translate = null)
    {
        _methods = methods;
        _translate = translate;
        _connection = new FrameConnection(input, output, log, name, onAbort: null);
    }

    /// <summary>Why the connection closed (null while it is open).</summary>
    internal Exception? AbortReason => _connection.AbortReason;

    /// <summary>Serves until end of stream, a protocol error, or <paramref name="ct"/>; never throws.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var registration = ct.UnsafeRegister(
            static state => ((FrameConnection)state!).Abort(new OperationCanceledException("server is shutting down")),
            _connection);
        _connection.Start(HandleFrame);
        await _connection.Completion.ConfigureAwait(false);
    }

    /// <summary>Handles one received frame; false if the connection had to be closed.</summary>
    private bool HandleFrame(Frame frame)
    {
        var header = frame.Header;
        switch (header.Type)
        {
            case MessageType.Request:
                return HandleRequest(header, frame.Data);

            case MessageType.Data:
                _connection.Log($"ignoring data frame on stream {header.StreamId}: streaming calls are not supported");
                return true;

            default:
                _connection.Abort(new InvalidDataException($"unexpected {header.Type} frame from client on stream {header.StreamId}"));
                return false;
        }
    }

    private bool HandleRequest(FrameHeader header, byte[] data)
    {
        var streamId = header.StreamId;
        if (streamId % 2 != 1)
        {
            Send(streamId, Error(StatusCode.InvalidArgument, $"stream id {streamId} must be odd for client initiated streams"));
            return true;
        }

        if (streamId <= _lastStreamId)
        {
            Send(streamId, Error(StatusCode.InvalidArgument, $"stream id {streamId} cannot be re-used and must increment"));
            return true;
        }

        _lastStreamId = streamId;

        Request request;
        try
        {
            request = Request.Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException e)
        {
            _connection.Abort(new InvalidDataException($"malformed request on stream {streamId}: {e.Message}", e));
            return false;
        }

        if ((header.Flags & FrameFlags.RemoteOpen) != 0)
        {
            Send(streamId, Error(StatusCode.Unimplemented, $"{request.Service}.{request.Method}: streaming requests are not supported"));
            return true;
        }

        _ = Task.Run(() => DispatchAsync(streamId, request));
        return true;
    }

    private async Task DispatchAsync(uint streamId, Request request)
    {
        using var callCancellation = CancellationTokenSource.CreateLinkedTokenSource(_connection.Closing);
        if (request.TimeoutNano > 0)
        {
            var timeout = Timeouts.FromNanoseconds(request.TimeoutNano);
            if (timeout < Timeouts.MaxTimer)
            {
                callCancellation.CancelAfter(timeout);
            }
        }

        var context = new TtrpcCallContext(
            request.Service,
            request.Method,
            MetadataConverter.FromWire(request.Metadata),
            callCancellation.Token,
            _connection.Log);

        Response response;
        try
        {
            var handler = _methods.Resolve(request.Service, request.Method);
            var payload = await handler(request.Payload, context).ConfigureAwait(false);
            Send(streamId, () => FrameWriter.EncodeOkResponse(streamId, payload), context.TakeAfterReply());
            return;
        }
        catch (TtrpcException e)
        {
            response = Error(e.Code, e.Message);
        }
        catch (OperationCanceledException) when (callCancellation.IsCancellationRequested)
        {
            response = _connection.Closing.IsCancellationRequested
                ? Error(StatusCode.Cancelled, $"{request.Service}.{request.Method}: connection closed")
                : Error(StatusCode.DeadlineExceeded, $"{request.Service}.{request.Method}: deadline exceeded");
        }
        catch (Exception e) when (_translate?.Invoke(e) is { } t)
        {
            response = Error(t.Code, t.Message);
        }
        catch (Exception e)
        {
            _connection.Log($"handler {request.Service}.{request.Method} failed: {e.GetType().Name}: {e.Message}");
            response = Error(StatusCode.Unknown, e.Message);
        }

        Send(streamId, () => FrameWriter.Encode(streamId, MessageType.Response, FrameFlags.None, response), context.TakeAfterReply());
    }

    private static Response Error(StatusCode code, string message) =>
        new() { Status = new Status { Code = (int)code, Message = message } };

    private void Send(uint streamId, Response response) =>
        Send(streamId, () => FrameWriter.Encode(streamId, MessageType.Response, FrameFlags.None, response), null);

    /// <summary>
    /// Queues the frame <paramref name="encode"/> makes, or, if it is too large, an error response in
    /// its place; <paramref name="left"/> runs once it has been written or dropped.
    /// </summary>
    private void Send(uint streamId, Func<byte[]> encode, Action? left)
    {
        byte[] frame;
        try
        {
            frame = encode();
        }
        catch (TtrpcException e)
        {
            _connection.Log($"response on stream {streamId} not sent: {e.Message}");
            frame = FrameWriter.Encode(streamId, MessageType.Response, FrameFlags.None, Error(e.Code, e.Message));
        }

        if (left is not null)
        {
            _connection.Writer.Enqueue(frame, left);
        }
        else
        {
            // False only when the connection is already closed; the response is then dropped.
            _connection.Writer.TryEnqueue(frame);
        }
    }
}
