using System.Runtime.InteropServices;
using Moat.Linux;

namespace Moat.Runtime;

/// <summary>Keeps a guest pty the size of the caller's terminal: now, and on every SIGWINCH.</summary>
public sealed class WindowSizeRelay : IDisposable
{
    private readonly IGuestAgent _agent;
    private readonly string _containerId;
    private readonly string _execId;
    private readonly PosixSignalRegistration? _registration;

    public WindowSizeRelay(IGuestAgent agent, string containerId, string execId)
    {
        _agent = agent;
        _containerId = containerId;
        _execId = execId;
        if (Terminal.IsTerminal(1) || Terminal.IsTerminal(0))
        {
            _registration = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, _ => Send());
        }
    }

    /// <summary>Sends the current size; call once the process exists.</summary>
    public void Send()
    {
        var size = Pty.GetSize(1) ?? Pty.GetSize(0);
        if (size is { } s)
        {
            _ = _agent.ResizeTtyAsync(_containerId, _execId, s.Rows, s.Cols, CancellationToken.None);
        }
    }

    public void Dispose() => _registration?.Dispose();
}
