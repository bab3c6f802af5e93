using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Agent;

/// <summary>
/// Port forwarding: the host accepted a connection for a pod port (CRI PortForward) and asks for
/// one to the same port on the guest's loopback, where the pod's servers listen; then it carries
/// the bytes both ways with reads and writes on the stream id.
/// </summary>
internal sealed partial class AgentService
{
    /// <summary>The most forwarded connections open at once.</summary>
    private const int MaxForwards = 256;

    /// <summary>The largest read answered: a ttrpc frame stays well under its 4 MiB limit.</summary>
    private const int MaxForwardRead = 256 * 1024;

    private readonly ConcurrentDictionary<uint, Socket> _forwards = new();
    private int _nextForward;

    public async Task<PortForwardOpenResponse> PortForwardOpen(PortForwardOpenRequest request, TtrpcCallContext context)
    {
        if (request.Port is 0 or > ushort.MaxValue)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"port {request.Port} is not a TCP port");
        }
        if (_forwards.Count >= MaxForwards)
        {
            throw new AgentException(AgentErrorKind.FailedPrecondition, $"{MaxForwards} forwarded connections are open: close some");
        }
        var socket = await ConnectLoopbackAsync((int)request.Port, context.CancellationToken);
        var id = (uint)Interlocked.Increment(ref _nextForward);
        _forwards[id] = socket;
        Log.Verbose($"port-forward {id}: connected to port {request.Port}");
        return new PortForwardOpenResponse { StreamId = id };
    }

    /// <summary>127.0.0.1, then ::1, as a client of "localhost" would try them.</summary>
    private static async Task<Socket> ConnectLoopbackAsync(int port, CancellationToken ct)
    {
        SocketException? refused = null;
        foreach (var address in new[] { IPAddress.Loopback, IPAddress.IPv6Loopback })
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), ct);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                refused ??= e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw new AgentException(AgentErrorKind.FailedPrecondition,
            $"nothing in the pod accepts connections on port {port} ({refused!.Message})");
    }

    public async Task<Empty> PortForwardWrite(PortForwardWriteRequest request, TtrpcCallContext context)
    {
        var socket = Forward(request.StreamId);
        try
        {
            var data = request.Data.Memory;
            while (!data.IsEmpty)
            {
                var n = await socket.SendAsync(data, SocketFlags.None, context.CancellationToken);
                data = data[n..];
            }
        }
        catch (SocketException e)
        {
            throw new AgentException(AgentErrorKind.FailedPrecondition, $"port-forward stream {request.StreamId}: {e.Message}");
        }
        return new Empty();
    }

    public async Task<ReadStreamResponse> PortForwardRead(PortForwardReadRequest request, TtrpcCallContext context)
    {
        var socket = Forward(request.StreamId);
        var max = request.Len == 0 ? MaxForwardRead : (int)Math.Min(request.Len, MaxForwardRead);
        var buffer = new byte[max];
        int n;
        try
        {
            n = await socket.ReceiveAsync(buffer, SocketFlags.None, context.CancellationToken);
        }
        catch (SocketException)
        {
            // Reset by the guest's server: for the host's client the stream has ended.
            n = 0;
        }
        return n == 0
            ? new ReadStreamResponse { Eof = true }
            : new ReadStreamResponse { Data = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, n)) };
    }

    public Task<Empty> PortForwardClose(PortForwardCloseRequest request, TtrpcCallContext context)
    {
        if (request.SendOnly)
        {
            try
            {
                Forward(request.StreamId).Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
            }
        }
        else if (_forwards.TryRemove(request.StreamId, out var socket))
        {
            socket.Dispose();
            Log.Verbose($"port-forward {request.StreamId}: closed");
        }
        return Task.FromResult(new Empty());
    }

    private Socket Forward(uint id) => _forwards.TryGetValue(id, out var s)
        ? s
        : throw new AgentException(AgentErrorKind.NotFound, $"port-forward stream {id} is not open");
}
