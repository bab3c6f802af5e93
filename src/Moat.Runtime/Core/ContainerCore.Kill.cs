namespace Moat.Runtime.Core;

public sealed partial class ContainerCore
{
    /// <summary>Sends <paramref name="signal"/> to a process (with <paramref name="all"/>, to every process of the container).</summary>
    public async Task KillAsync(string id, string execId, uint signal, bool all, CancellationToken ct)
    {
        var c = Get(id);
        var p = Process(c, execId);
        if (p.Exited.IsCompleted)
        {
            throw new RuntimeException(RuntimeErrorKind.NotFound, $"{Describe(id, execId)}: process already finished");
        }
        try
        {
            await c.Sandbox.Guest.SignalAsync(c.Id, execId, signal, all, ct).ConfigureAwait(false);
        }
        catch (AgentException e) when (e.Kind == RuntimeErrorKind.NotFound)
        {
            throw new RuntimeException(RuntimeErrorKind.NotFound, $"{Describe(id, execId)}: process already finished");
        }
    }
}
