namespace Moat.Hypervisor;

/// <summary>QEMU answered a QMP command with <c>{"error": {"class": ..., "desc": ...}}</c>.</summary>
public sealed class QmpException : Exception
{
    public QmpException(string command, string errorClass, string description)
        : base($"QMP command '{command}' failed: {errorClass}: {description}")
    {
        Command = command;
        ErrorClass = errorClass;
        Description = description;
    }

    /// <summary>The command that failed (e.g. <c>cont</c>).</summary>
    public string Command { get; }

    /// <summary>The QMP error class, e.g. <c>GenericError</c>, <c>CommandNotFound</c>, <c>DeviceNotFound</c>.</summary>
    public string ErrorClass { get; }

    /// <summary>QEMU's human-readable description.</summary>
    public string Description { get; }
}
