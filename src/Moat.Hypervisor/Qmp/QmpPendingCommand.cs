using System.Text.Json;

namespace Moat.Hypervisor;

/// <summary>One queued or in-flight QMP command and the completion its caller awaits.</summary>
internal sealed class QmpPendingCommand
{
    private const int Queued = 0;
    private const int Sent = 1;
    private const int Cancelled = 2;

    private int _state;

    public QmpPendingCommand(long id, string command, byte[] payload, bool isQuit)
    {
        Id = id;
        Command = command;
        Payload = payload;
        IsQuit = isQuit;
    }

    public long Id { get; }

    public string Command { get; }

    /// <summary>The serialized request, newline-terminated.</summary>
    public byte[] Payload { get; }

    /// <summary>A <c>quit</c>: the connection closing after it was sent counts as success.</summary>
    public bool IsQuit { get; }

    public bool WasSent => Volatile.Read(ref _state) == Sent;

    public TaskCompletionSource<JsonElement> Reply { get; } =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Writer side: claims the command for sending; false if its caller already gave up.</summary>
    public bool TryMarkSent() => Interlocked.CompareExchange(ref _state, Sent, Queued) == Queued;

    /// <summary>Caller side: withdraws a command that has not been sent yet.</summary>
    public bool TryCancelQueued(CancellationToken ct)
    {
        if (Interlocked.CompareExchange(ref _state, Cancelled, Queued) != Queued)
        {
            return false;
        }

        Reply.TrySetCanceled(ct);
        return true;
    }
}
