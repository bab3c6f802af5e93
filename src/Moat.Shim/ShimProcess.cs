using Moat.Protocols.Containerd.Types;

namespace Moat.Shim;

/// <summary>A task's init process or one of its execs, as containerd sees it.</summary>
internal sealed class ShimProcess
{
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public required string ContainerId { get; init; }
    public required string ExecId { get; init; }
    public required StdioPaths Io { get; init; }
    public byte[]? ProcessJson { get; init; }
    public uint Pid { get; set; }

    /// <summary>The agent's WaitProcess for this process: its status once it exits in the guest.</summary>
    public Task<int>? GuestExit { get; set; }
    public bool Started { get; set; }
    public uint ExitStatus { get; private set; }
    public DateTime ExitedAt { get; private set; }
    public Task Exited => _exited.Task;
    public CancellationTokenSource IoCancel { get; } = new();

    /// <summary>The process's status in the OCI's terms, which <see cref="Moat.Oci.ContainerTransitions"/> rules on.</summary>
    public Moat.Oci.ContainerStatus OciStatus(bool paused) =>
        Exited.IsCompleted ? Moat.Oci.ContainerStatus.Stopped
        : !Started ? Moat.Oci.ContainerStatus.Created
        : paused ? Moat.Oci.ContainerStatus.Paused
        : Moat.Oci.ContainerStatus.Running;

    /// <summary>The same status in containerd's terms (the task API's State).</summary>
    public Status Status(bool paused) => OciStatus(paused) switch
    {
        Moat.Oci.ContainerStatus.Stopped => Moat.Protocols.Containerd.Types.Status.Stopped,
        Moat.Oci.ContainerStatus.Created => Moat.Protocols.Containerd.Types.Status.Created,
        Moat.Oci.ContainerStatus.Paused => Moat.Protocols.Containerd.Types.Status.Paused,
        _ => Moat.Protocols.Containerd.Types.Status.Running,
    };

    /// <summary>Stops copying stdin (its FIFO is held open read-write, so it never reports EOF).</summary>
    public CancellationTokenSource StdinCancel { get; } = new();

    public void CloseStdin() => StdinCancel.Cancel();

    public void SetExited(int status)
    {
        ExitStatus = (uint)status;
        ExitedAt = DateTime.UtcNow;
        _exited.TrySetResult();
    }
}

internal sealed record StdioPaths(string Stdin, string Stdout, string Stderr, bool Terminal);
