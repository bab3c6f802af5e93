using System.Runtime.InteropServices;

namespace Moat.Linux;

/// <summary>
/// Catches signals for as long as it lives and hands each to <c>forward</c> instead of letting it
/// act on this process (how moat run, the relay and a foreground CLI pass signals on).
/// </summary>
public sealed class ForwardedSignals : IDisposable
{
    /// <summary>What runc forwards to a container's process by default.</summary>
    public static readonly int[] Default = [Signals.SIGHUP, Signals.SIGINT, Signals.SIGQUIT, Signals.SIGTERM];

    private readonly List<PosixSignalRegistration> _registrations = [];

    public ForwardedSignals(IEnumerable<int> signals, Action<int> forward)
    {
        foreach (var sig in signals)
        {
            // Raw numbers are accepted as PosixSignal on Unix.
            _registrations.Add(PosixSignalRegistration.Create((PosixSignal)sig, ctx =>
            {
                ctx.Cancel = true;
                forward(sig);
            }));
        }
    }

    public void Dispose()
    {
        foreach (var r in _registrations)
        {
            r.Dispose();
        }
    }
}
