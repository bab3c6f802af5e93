namespace Moat.Hypervisor;

/// <summary>
/// The peer violated the QMP wire protocol (bad greeting, a line that is not a JSON object, an oversized line).
/// The connection is closed when this is raised.
/// </summary>
public sealed class QmpProtocolException : IOException
{
    public QmpProtocolException(string message)
        : base(message)
    {
    }

    public QmpProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
