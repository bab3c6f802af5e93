using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Runtime;

/// <summary>Reaching a VM's agent while the VM starts, with the guest's failures told apart from a slow guest.</summary>
internal static class AgentConnection
{
    /// <summary>Connects to the agent socket QEMU serves, retrying while QEMU creates it (up to 10 s).</summary>
    public static async Task<TtrpcClient> ConnectAsync(string socket, Task vmExit, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                return await TtrpcClient.ConnectUnixAsync(socket, ct).ConfigureAwait(false);
            }
            catch (System.Net.Sockets.SocketException) when (DateTime.UtcNow < deadline && !vmExit.IsCompleted)
            {
                await Task.Delay(5, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Waits for the agent's first answer; a VM that exits first, or an agent that never answers, is a typed error.</summary>
    public static async Task<CheckResponse> CheckAsync(AgentClient agent, Task vmExit, TimeSpan timeout, CancellationToken ct)
    {
        var check = agent.CheckAsync(timeout, ct);
        if (await Task.WhenAny(check, vmExit).ConfigureAwait(false) != check)
        {
            throw new RuntimeException(RuntimeErrorKind.GuestFailure,
                "the VM exited before its agent answered: the guest crashed or panicked");
        }
        try
        {
            return await check.ConfigureAwait(false);
        }
        catch (TtrpcException e) when (e.Code == StatusCode.DeadlineExceeded)
        {
            throw new RuntimeException(RuntimeErrorKind.Timeout,
                $"the guest agent did not answer within {timeout.TotalSeconds:F0} s");
        }
        catch (TtrpcException e) when (e.Code == StatusCode.Unavailable)
        {
            // The agent channel closes a moment before QEMU is reaped: give the exit a chance to show.
            await Task.WhenAny(vmExit, Task.Delay(TimeSpan.FromSeconds(3), ct)).ConfigureAwait(false);
            throw new RuntimeException(RuntimeErrorKind.GuestFailure, vmExit.IsCompleted
                ? "the VM exited before its agent answered: the guest crashed or panicked"
                : $"lost the connection to the guest agent during boot: {e.Message}", e);
        }
    }
}
