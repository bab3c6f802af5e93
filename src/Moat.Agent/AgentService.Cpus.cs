using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Agent;

internal sealed partial class AgentService
{
    private static readonly TimeSpan CpuOnlineTimeout = TimeSpan.FromSeconds(10);

    public async Task<OnlineCpusResponse> OnlineCpus(OnlineCpusRequest request, TtrpcCallContext context)
    {
        // ACPI adds a plugged vCPU a moment after QEMU's device_add returns: keep onlining until enough are.
        var deadline = DateTime.UtcNow + CpuOnlineTimeout;
        while (true)
        {
            var online = GuestCpus.OnlineUpTo((int)request.Count);
            if (online >= request.Count)
            {
                return new OnlineCpusResponse { OnlineCpus = (uint)online };
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new AgentException(AgentErrorKind.Timeout,
                    $"only {online} of {request.Count} vCPUs came online within {CpuOnlineTimeout.TotalSeconds:0} s: does the guest kernel have ACPI CPU hotplug?");
            }
            await Task.Delay(20, context.CancellationToken).ConfigureAwait(false);
        }
    }
}
