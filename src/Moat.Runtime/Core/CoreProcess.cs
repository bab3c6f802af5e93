using Moat.Oci;

namespace Moat.Runtime.Core;

/// <summary>Where a process's stdio goes, as its front door named it (FIFO paths for containerd, empty for a caller's own streams).</summary>
public sealed record ProcessIo(string Stdin, string Stdout, string Stderr, bool Terminal);

/// <summary>A process's stdio once opened; null where there is none.</summary>
public sealed record ProcessStreams(Stream? Stdin, Stream? Stdout, Stream? Stderr);

/// <summary>A container's init process or one of its execs: its status, its end.</summary>
public sealed class CoreProcess
{
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public required string ContainerId { get; init; }

    /// <summary>Empty for the container's init process.</summary>
    public required string ExecId { get; init; }

    public required ProcessIo Io { get; init; }

    /// <summary>An exec's OCI process (JSON).</summary>
    public byte[]? ProcessJson { get; init; }

    /// <summary>The host pid front doors report: the VM's for an init, the guest pid for an exec.</summary>
    public uint Pid { get; internal set; }

    public bool Started { get; internal set; }
    public uint ExitStatus { get; private set; }
    public DateTime ExitedAt { get; private set; }

    /// <summary>What happened to the VM when it died under this process (its status is then 137); null otherwise.</summary>
    public string? VmDeath { get; private set; }

    public Task Exited => _exited.Task;

    /// <summary>The guest's answer for this process: its end by the sandbox's one rule (<see cref="Sandbox.WaitAsync"/>).</summary>
    internal Task<ProcessEnd>? GuestExit { get; set; }

    internal CancellationTokenSource IoCancel { get; } = new();

    /// <summary>Stops copying stdin (a FIFO held open read-write never reports EOF).</summary>
    internal CancellationTokenSource StdinCancel { get; } = new();

    /// <summary>The process's status in the OCI's terms, which <see cref="ContainerTransitions"/> rules on.</summary>
    public ContainerStatus OciStatus(bool paused) =>
        Exited.IsCompleted ? ContainerStatus.Stopped
        : !Started ? ContainerStatus.Created
        : paused ? ContainerStatus.Paused
        : ContainerStatus.Running;

    internal void SetExited(ProcessEnd end)
    {
        ExitStatus = (uint)end.Status;
        VmDeath = end.VmDeath;
        ExitedAt = DateTime.UtcNow;
        _exited.TrySetResult();
    }
}
