using Moat.Hypervisor;
using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Runtime;

/// <summary>Reaching a VM's agent while the VM starts, with the guest's failures told apart from a slow guest.</summary>
internal static class AgentConnection
{
    /// <summary>How long QEMU may take to create the agent socket.</summary>
    private static readonly TimeSpan SocketTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Connects to the agent socket QEMU serves, retrying while QEMU creates it (up to 10 s).</summary>
    public static async Task<TtrpcClient> ConnectAsync(string socket, IHypervisor vm, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + SocketTimeout;
        while (true)
        {
            try
            {
                return await TtrpcClient.ConnectUnixAsync(socket, ct).ConfigureAwait(false);
            }
            catch (System.Net.Sockets.SocketException) when (DateTime.UtcNow < deadline && !vm.Fault.IsCompleted)
            {
                await Task.Delay(5, ct).ConfigureAwait(false);
            }
            catch (System.Net.Sockets.SocketException) when (vm.Fault.IsCompleted)
            {
                throw Failed(await vm.Fault.ConfigureAwait(false), vm);
            }
        }
    }

    /// <summary>
    /// Waits for the agent's first answer. A VM that faults first (QEMU stops it on an error, the
    /// guest panics or shuts down, QEMU exits) fails the wait at once, with QEMU's own words; an
    /// agent that never answers fails it after <paramref name="timeout"/>.
    /// </summary>
    public static async Task<CheckResponse> CheckAsync(AgentClient agent, IHypervisor vm, TimeSpan timeout, CancellationToken ct)
    {
        var check = agent.CheckAsync(timeout, ct);
        if (await Task.WhenAny(check, vm.Fault).ConfigureAwait(false) != check)
        {
            throw Failed(await vm.Fault.ConfigureAwait(false), vm);
        }
        try
        {
            return await check.ConfigureAwait(false);
        }
        catch (TtrpcException e) when (e.Code == StatusCode.DeadlineExceeded)
        {
            var fault = new VmFault(VmFaultKind.AgentTimeout, $"the guest agent did not answer within {timeout.TotalSeconds:F0} s");
            throw RuntimeException.GuestDidNotStart(fault, vm.Describe(fault));
        }
        catch (TtrpcException e) when (e.Code == StatusCode.Unavailable)
        {
            // The agent channel closes a moment before QEMU is reaped: give the fault a chance to show.
            if (await Task.WhenAny(vm.Fault, Task.Delay(TimeSpan.FromSeconds(3), ct)).ConfigureAwait(false) == vm.Fault)
            {
                throw Failed(await vm.Fault.ConfigureAwait(false), vm);
            }
            throw new RuntimeException(RuntimeErrorKind.GuestFailure, $"lost the connection to the guest agent during boot: {e.Message}", e);
        }
    }

    private static RuntimeException Failed(VmFault fault, IHypervisor vm) =>
        RuntimeException.GuestDidNotStart(fault, "the VM failed before its agent answered: " + vm.Describe(fault));
}
