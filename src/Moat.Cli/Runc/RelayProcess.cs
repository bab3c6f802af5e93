using Moat.Linux;
using Moat.Runtime;

namespace Moat.Cli.Runc;

/// <summary>A container's relay process seen from another moat command: is it still there, wait for it, stop it.</summary>
internal static class RelayProcess
{
    /// <summary>Whether <paramref name="pid"/> is a live relay (a zombie is gone: it has exited).</summary>
    public static bool IsRelay(int pid)
    {
        try
        {
            return ProcessIdentity.Of(pid) is not null && File.ReadAllText($"/proc/{pid}/cmdline").Contains(Relay.Verb, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the relay to exit; whether it did.</summary>
    public static async Task<bool> WaitGoneAsync(int pid, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (IsRelay(pid))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            await Task.Delay(10, ct).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>The relay exits by itself once the shim reports the exit; one whose shim died is killed.</summary>
    public static async Task StopAsync(int pid, CancellationToken ct)
    {
        if (!await WaitGoneAsync(pid, TimeSpan.FromSeconds(1), ct).ConfigureAwait(false))
        {
            Moat.Linux.Interop.Libc.kill(pid, Signals.SIGKILL);
        }
    }
}
