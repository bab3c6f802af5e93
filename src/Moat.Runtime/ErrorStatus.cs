using Moat.Ttrpc;

namespace Moat.Runtime;

/// <summary>
/// The one table between the runtime's error kinds and ttrpc statuses, used at every hop (agent →
/// shim, shim → CLI, and the shim's own answers) so a kind survives the three processes.
/// </summary>
public static class ErrorStatus
{
    public static RuntimeErrorKind KindOf(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.OutOfRange => RuntimeErrorKind.InvalidArgument,
        StatusCode.NotFound => RuntimeErrorKind.NotFound,
        StatusCode.AlreadyExists => RuntimeErrorKind.AlreadyExists,
        StatusCode.FailedPrecondition => RuntimeErrorKind.FailedPrecondition,
        StatusCode.DeadlineExceeded => RuntimeErrorKind.Timeout,
        StatusCode.Unavailable => RuntimeErrorKind.GuestFailure,
        StatusCode.Unimplemented => RuntimeErrorKind.Unsupported,
        _ => RuntimeErrorKind.Internal,
    };

    public static StatusCode StatusOf(RuntimeErrorKind kind) => kind switch
    {
        RuntimeErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        RuntimeErrorKind.NotFound => StatusCode.NotFound,
        RuntimeErrorKind.AlreadyExists => StatusCode.AlreadyExists,
        RuntimeErrorKind.FailedPrecondition or RuntimeErrorKind.MissingDependency => StatusCode.FailedPrecondition,
        RuntimeErrorKind.Timeout => StatusCode.DeadlineExceeded,
        RuntimeErrorKind.GuestFailure => StatusCode.Unavailable,
        RuntimeErrorKind.Unsupported => StatusCode.Unimplemented,
        _ => StatusCode.Internal,
    };
}
