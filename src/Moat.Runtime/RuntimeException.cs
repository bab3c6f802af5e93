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

    /// <summary>Something Moat does not do (checkpoint, restore): ttrpc's Unimplemented.</summary>
    Unsupported,
    Internal,
}

/// <summary>A runtime failure with a one-line message meant for the user.</summary>
public class RuntimeException : Exception
{
    public RuntimeException(RuntimeErrorKind kind, string message, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    public RuntimeErrorKind Kind { get; }

    /// <summary>The VM fault behind a <see cref="RuntimeErrorKind.GuestFailure"/> or <see cref="RuntimeErrorKind.Timeout"/> of a VM start.</summary>
    public VmFault? Fault { get; init; }

    /// <summary>
    /// The exit status a front door gives for this error instead of its usual one; set when the
    /// error stands for the container's end (<see cref="VmDied"/>).
    /// </summary>
    public int? ExitStatus { get; init; }

    /// <summary>What every front door answers when the VM dies under a running container: the status a SIGKILLed process gets.</summary>
    public const int VmDeathStatus = 128 + 9;

    /// <summary>The VM died (QEMU killed, guest panic) while the container ran: exit status 137 and one line saying what happened.</summary>
    public static RuntimeException VmDied(string id, string what, Exception? inner = null) =>
        new(RuntimeErrorKind.GuestFailure, $"container {id}: the VM stopped while the container was running ({what}): exit status {VmDeathStatus}", inner) { ExitStatus = VmDeathStatus };

    /// <summary>A VM start that failed because the guest never came up (it faulted, or its agent never answered).</summary>
    public static RuntimeException GuestDidNotStart(VmFault fault, string message) =>
        new(fault.Kind == VmFaultKind.AgentTimeout ? RuntimeErrorKind.Timeout : RuntimeErrorKind.GuestFailure, message) { Fault = fault };
}
