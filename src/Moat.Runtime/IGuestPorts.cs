namespace Moat.Runtime;

/// <summary>
/// TCP connections to ports on the guest's loopback, made by the guest agent for port forwarding
/// (CRI PortForward), each named by a stream id. <see cref="GuestAgent"/> speaks ttrpc to the
/// agent; tests use a fake.
/// </summary>
public interface IGuestPorts
{
    /// <summary>Connects to <paramref name="port"/> in the guest; the new stream's id. An <see cref="AgentException"/> when nothing accepts.</summary>
    Task<uint> OpenAsync(int port, CancellationToken ct);

    Task WriteAsync(uint stream, ReadOnlyMemory<byte> data, CancellationToken ct);

    /// <summary>Waits for the next bytes the guest's server sends (at most <paramref name="maxBytes"/>), or its end.</summary>
    Task<GuestOutput> ReadAsync(uint stream, int maxBytes, CancellationToken ct);

    /// <summary>Closes the stream, or with <paramref name="sendOnly"/> only its sending half.</summary>
    Task CloseAsync(uint stream, bool sendOnly, CancellationToken ct);
}
