using Moat.Ttrpc;

namespace Moat.Agent;

/// <summary>What kind of refusal or failure an agent operation ends in; the host reads it as the call's status.</summary>
internal enum AgentErrorKind
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    Timeout,
    Internal,
}

/// <summary>
/// An agent operation failed; the message is for the host's user (one line, naming the container
/// or exec). Domain code throws these; the ttrpc server turns them into statuses in one place
/// (<see cref="StatusFor"/>).
/// </summary>
internal sealed class AgentException(AgentErrorKind kind, string message) : Exception(message)
{
    public AgentErrorKind Kind { get; } = kind;

    /// <summary>The agent's one translation of its errors into ttrpc statuses; null leaves an unexpected error to the server.</summary>
    public static TtrpcException? StatusFor(Exception e) => e is AgentException a
        ? new TtrpcException(a.Kind switch
        {
            AgentErrorKind.InvalidArgument => StatusCode.InvalidArgument,
            AgentErrorKind.NotFound => StatusCode.NotFound,
            AgentErrorKind.AlreadyExists => StatusCode.AlreadyExists,
            AgentErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
            AgentErrorKind.Timeout => StatusCode.DeadlineExceeded,
            _ => StatusCode.Internal,
        }, a.Message, a)
        : null;
}
