namespace Moat.Oci;

/// <summary>What a caller asks of a container (runtime.md "Operations", plus runc's pause/resume and exec).</summary>
public enum ContainerOperation
{
    Start,
    Kill,
    Exec,
    Pause,
    Resume,
    Update,
    Delete,
    ForceDelete,
}

/// <summary>
/// The one place that says which operation may follow which status (as youki's state.rs and
/// runc's state_linux.go do): every front door asks here, and refuses with the words runc's
/// callers match ("already running", "container not running", "not stopped").
/// </summary>
public static class ContainerTransitions
{
    /// <summary>Null when <paramref name="op"/> may run on a container in <paramref name="status"/>; otherwise why not, in one line about <paramref name="subject"/> ("container c1").</summary>
    public static string? Refusal(ContainerOperation op, ContainerStatus status, string subject) => (op, status) switch
    {
        (ContainerOperation.Start, ContainerStatus.Created) => null,
        (ContainerOperation.Start, ContainerStatus.Stopped) => $"cannot start {subject}: it has stopped",
        (ContainerOperation.Start, ContainerStatus.Creating) => $"cannot start {subject}: it is still being created",
        (ContainerOperation.Start, _) => $"cannot start {subject}: it is already running",

        (ContainerOperation.Kill, ContainerStatus.Created or ContainerStatus.Running or ContainerStatus.Paused) => null,
        (ContainerOperation.Kill, _) => $"{subject}: container not running",

        (ContainerOperation.Exec, ContainerStatus.Running) => null,
        (ContainerOperation.Exec, _) => $"cannot exec in {subject}: it is {Name(status)}, not running",

        (ContainerOperation.Pause, ContainerStatus.Running) => null,
        (ContainerOperation.Pause, _) => $"{subject}: container not running",
        (ContainerOperation.Resume, ContainerStatus.Paused) => null,
        (ContainerOperation.Resume, _) => $"{subject}: container not paused",

        (ContainerOperation.Update, ContainerStatus.Created or ContainerStatus.Running or ContainerStatus.Paused) => null,
        (ContainerOperation.Update, _) => $"cannot update {subject}: it is {Name(status)}",

        (ContainerOperation.Delete, ContainerStatus.Created or ContainerStatus.Stopped) => null,
        (ContainerOperation.Delete, _) => $"cannot delete {subject} that is not stopped: {Name(status)}: stop it first or pass --force",
        (ContainerOperation.ForceDelete, _) => null,

        _ => $"{subject}: {op} is not possible while it is {Name(status)}",
    };

    /// <summary>Throws <see cref="ContainerStateException"/> when <paramref name="op"/> may not run now.</summary>
    public static void Check(ContainerOperation op, ContainerStatus status, string subject)
    {
        if (Refusal(op, status, subject) is { } why)
        {
            throw new ContainerStateException(op, status, why);
        }
    }

    public static string Name(ContainerStatus status) => status.ToString().ToLowerInvariant();
}

/// <summary>An operation the container's status does not allow (a failed precondition at every edge).</summary>
public sealed class ContainerStateException(ContainerOperation op, ContainerStatus status, string message) : Exception(message)
{
    public ContainerOperation Operation { get; } = op;
    public ContainerStatus Status { get; } = status;
}
