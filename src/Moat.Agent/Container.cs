using Moat.Oci;

namespace Moat.Agent;

internal sealed class Container
{
    public Container(string id, Spec spec) => (Id, Spec) = (id, spec);

    public string Id { get; }
    public Spec Spec { get; }
    public GuestProcess? Init { get; set; }
    public bool Started { get; set; }
    public Dictionary<string, GuestProcess> Execs { get; } = [];

    /// <summary>The init process's PID namespace link ("pid:[4026532...]"), to find every process of the container.</summary>
    public string? PidNamespace { get; set; }

    public GuestProcess Process(string execId)
    {
        if (string.IsNullOrEmpty(execId))
        {
            return Init ?? throw new AgentException(AgentErrorKind.FailedPrecondition, $"container {Id} has no init process");
        }
        lock (Execs)
        {
            return Execs.TryGetValue(execId, out var p)
                ? p
                : throw new AgentException(AgentErrorKind.NotFound, $"exec {execId} not found in container {Id}");
        }
    }
}
