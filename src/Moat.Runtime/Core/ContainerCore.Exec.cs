using Moat.Oci;

namespace Moat.Runtime.Core;

public sealed partial class ContainerCore
{
    /// <summary>Adds an exec (<paramref name="processJson"/>: an OCI process) to a running container; <see cref="StartAsync"/> runs it.</summary>
    public CoreProcess AddExec(string id, string execId, ProcessIo io, byte[] processJson)
    {
        var c = Get(id);
        Require(ContainerOperation.Exec, c.Init, c.Paused);
        var p = new CoreProcess { ContainerId = c.Id, ExecId = execId, Io = io, ProcessJson = processJson };
        lock (c.Execs)
        {
            if (!c.Execs.TryAdd(execId, p))
            {
                throw new RuntimeException(RuntimeErrorKind.AlreadyExists, $"exec {execId} already exists in task {c.Id}");
            }
        }
        return p;
    }
}
