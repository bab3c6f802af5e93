using Moat.Protocols.Monitor;
using Moat.Ttrpc;

namespace Moat.Protocols.Containerd;

/// <summary>The shim's monitor service (moat.monitor.v1.Monitor), served on the task API's socket.</summary>
public static class MonitorServiceBinder
{
    public const string ServiceName = "moat.monitor.v1.Monitor";

    public static void Bind(TtrpcServer server, Func<SandboxesRequest, TtrpcCallContext, Task<SandboxesResponse>> sandboxes) =>
        server.AddUnary(ServiceName, "Sandboxes", SandboxesRequest.Parser, sandboxes);

    /// <summary>Asks a shim for its sandboxes; the deadline covers the whole call.</summary>
    public static Task<SandboxesResponse> SandboxesAsync(TtrpcClient client, TimeSpan guestDeadline, TimeSpan deadline, CancellationToken ct) =>
        client.CallAsync(ServiceName, "Sandboxes", new SandboxesRequest { GuestDeadlineMs = (uint)guestDeadline.TotalMilliseconds },
            SandboxesResponse.Parser, new CallOptions { Timeout = deadline }, ct);
}
