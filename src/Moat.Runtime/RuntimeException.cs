namespace Moat.Runtime;

public enum RuntimeErrorKind
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    MissingDependency,
    GuestFailure,
    Timeout,
    Internal,
}

/// <summary>A runtime failure with a one-line message meant for the user.</summary>
public sealed class RuntimeException : Exception
{
    public RuntimeException(RuntimeErrorKind kind, string message, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    public RuntimeErrorKind Kind { get; }
}
