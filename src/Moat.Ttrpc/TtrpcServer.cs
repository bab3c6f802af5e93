using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf;

namespace Moat.Ttrpc;

/// <summary>
/// A ttrpc server: a table of unary handlers plus ways to serve connections (a stream, a pair
/// of streams, a Unix socket or an already-bound listening socket).
/// </summary>
public sealed class TtrpcServer
{
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly MethodRegistry _methods = new();
    private readonly Action<string>? _log;
    private readonly Func<Exception, TtrpcException?>? _translate;
    private long _connectionCount;

    /// <param name="log">Where connection problems are told.</param>
    /// <param name="translate">
    /// The service's one mapping from its own typed errors to statuses, applied to whatever a
    /// handler throws other than a <see cref="TtrpcException"/>; null (or a null answer) gives Unknown.
    /// </param>
    public TtrpcServer(Action<string>? log = null, Func<Exception, TtrpcException?>? translate = null)
    {
        _log = log;
        _translate = translate;
    }

    internal MethodRegistry Methods => _methods;

    /// <summary>Registers a unary handler. Throws if <paramref name="service"/>.<paramref name="method"/> is already registered.</summary>
    public void AddUnary<TRequest, TResponse>(
        string service,
        string method,
        MessageParser<TRequest> parser,
        Func<TRequest, TtrpcCallContext, Task<TResponse>> handler)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(parser);
        ArgumentNullException.ThrowIfNull(handler);

        _methods.Add(service, method, async (payload, context) =>
        {
            TRequest request;
            try
            {
                request = parser.ParseFrom(payload);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new TtrpcException(
                    StatusCode.InvalidArgument, $"{service}.{method}: malformed request payload: {e.Message}", e);
            }

            var response = await handler(request, context).ConfigureAwait(false)
                ?? throw new TtrpcException(StatusCode.Internal, $"{service}.{method}: handler returned null");
            return (IMessage)response;
        });
    }

    /// <summary>Serves one duplex connection until end of stream or error; never throws. Closes the stream.</summary>
    public Task ServeAsync(Stream stream, CancellationToken ct) => ServeAsync(stream, stream, ct);

    /// <summary>Serves one connection made of separate read and write streams; never throws. Closes both.</summary>
    public Task ServeAsync(Stream input, Stream output, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var name = $"server conn#{Interlocked.Increment(ref _connectionCount)}";
        return new ServerConnection(_methods, input, output, _log, name, _translate).RunAsync(ct);
    }

    /// <summary>
    /// Binds a Unix socket (a path starting with '@' is abstract; otherwise a stale socket file is
    /// removed first), then accepts until <paramref name="ct"/> is cancelled, serving each
    /// connection concurrently. On exit the listener is closed and the socket file deleted.
    /// </summary>
    public async Task ListenUnixAsync(string path, CancellationToken ct, Action? onListening = null)
    {
        var endPoint = Moat.Linux.UnixSocketPath.ToEndPoint(path);
        var isAbstract = Moat.Linux.UnixSocketPath.IsAbstract(path);
        if (!isAbstract)
        {
            File.Delete(path);
        }

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(endPoint);
            listener.Listen(backlog: 128);
            Log($"listening on {path}");
            onListening?.Invoke();
            await ListenAsync(listener, ct).ConfigureAwait(false);
        }
        finally
        {
            listener.Dispose();
            if (!isAbstract)
            {
                TryDeleteSocketFile(path);
            }
        }
    }

    /// <summary>
    /// Accepts connections on an already-bound, listening socket until <paramref name="ct"/> is
    /// cancelled, serving each concurrently; then closes the listener and waits for the
    /// connections (which are closed by the same token) to finish.
    /// </summary>
    public async Task ListenAsync(Socket listener, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var connections = new ConcurrentDictionary<Task, bool>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await listener.AcceptAsync(ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (ObjectDisposedException)
                {
                    Log("listener closed");
                    break;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted or SocketError.Shutdown)
                {
                    Log($"listener closed: {e.Message}");
                    break;
                }
                catch (SocketException e) when (IsTransientAcceptError(e.SocketErrorCode))
                {
                    Log($"accept failed, retrying: {e.Message}");
                    try
                    {
                        await Task.Delay(AcceptRetryDelay, ct).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }

                    continue;
                }

                var connection = ServeAsync(new NetworkStream(socket, ownsSocket: true), ct);
                connections.TryAdd(connection, true);
                _ = connection.ContinueWith(
                    static (task, state) => ((ConcurrentDictionary<Task, bool>)state!).TryRemove(task, out _),
                    connections,
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }
        finally
        {
            listener.Dispose();
            await Task.WhenAll(connections.Keys).ConfigureAwait(false);
        }
    }

    private static bool IsTransientAcceptError(SocketError error) =>
        error is SocketError.ConnectionAborted
            or SocketError.ConnectionReset
            or SocketError.TooManyOpenSockets
            or SocketError.NoBufferSpaceAvailable
            or SocketError.TryAgain;

    private void TryDeleteSocketFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log($"could not delete socket file {path}: {e.Message}");
        }
    }

    private void Log(string message) => _log?.Invoke($"ttrpc server: {message}");
}
