using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Agent;

internal sealed partial class AgentService
{
    /// <summary>Read only when the host asks (a scrape): nothing runs in the guest for metrics otherwise.</summary>
    public Task<GuestMetricsResponse> GuestMetrics(GuestMetricsRequest request, TtrpcCallContext context) =>
        Task.FromResult(GuestStats.Read());
}
