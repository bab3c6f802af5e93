using Moat.Hypervisor;

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

    /// <summary>The VM fault behind a <see cref="RuntimeErrorKind.GuestFailure"/> or <see cref="RuntimeErrorKind.Timeout"/> of a VM start.</summary>
    public VmFault? Fault { get; init; }

    /// <summary>A VM start that failed because the guest never came up (it faulted, or its agent never answered).</summary>
    public static RuntimeException GuestDidNotStart(VmFault fault, string message) =>
        new(fault.Kind == VmFaultKind.AgentTimeout ? RuntimeErrorKind.Timeout : RuntimeErrorKind.GuestFailure, message) { Fault = fault };
}
