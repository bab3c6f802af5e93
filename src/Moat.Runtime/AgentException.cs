namespace Moat.Runtime;

/// <summary>
/// The guest agent refused or failed a call. Its message is the agent's own (escaped and cut to
/// one short line: the guest may be hostile); its kind is the status the agent answered with.
/// </summary>
public sealed class AgentException : RuntimeException
{
    public AgentException(RuntimeErrorKind kind, string message, Exception? inner = null)
        : base(kind, message, inner)
    {
    }

    /// <summary>This error, its message naming container <paramref name="id"/> (prefixed only when the agent did not).</summary>
    public AgentException About(string id) =>
        Message.Contains(id, StringComparison.Ordinal) ? this : new AgentException(Kind, $"container {id}: {Message}", this);
}
