namespace Moat.Runtime.Core;

/// <summary>What the core reports as it happens, for a front door to pass on (containerd's /tasks/exit and /tasks/oom).</summary>
public interface ICoreEvents
{
    /// <summary>A process exited and everything it wrote was passed on.</summary>
    void Exited(CoreContainer container, CoreProcess process);

    /// <summary>The guest's OOM killer hit a container of this core (its id checked: the guest may be hostile).</summary>
    void OomKilled(string containerId);
}
