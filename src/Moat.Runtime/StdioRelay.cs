namespace Moat.Runtime;

/// <summary>Copies a guest process's stdout/stderr to host streams and host stdin to the guest, over the agent.</summary>
public sealed class StdioRelay
{
    private readonly IGuestAgent _agent;
    private readonly string _containerId;
    private readonly string _execId;

    public StdioRelay(IGuestAgent agent, string containerId, string execId)
    {
        _agent = agent;
        _containerId = containerId;
        _execId = execId;
    }

    /// <summary>The most one read asks the agent for.</summary>
    public const int MaxRead = 1 << 20;

    /// <summary>Pumps until the guest reports EOF on that stream.</summary>
    public async Task PumpOutputAsync(bool stderr, Stream destination, CancellationToken ct)
    {
        while (true)
        {
            var r = await _agent.ReadOutputAsync(_containerId, _execId, stderr, MaxRead, ct).ConfigureAwait(false);
            if (!r.Data.IsEmpty)
            {
                await destination.WriteAsync(r.Data, ct).ConfigureAwait(false);
                await destination.FlushAsync(ct).ConfigureAwait(false);
            }
            if (r.Eof)
            {
                return;
            }
        }
    }

    /// <summary>Copies the source to the guest's stdin, then closes it.</summary>
    public async Task PumpInputAsync(Stream source, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await source.ReadAsync(buffer, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                await _agent.WriteStdinAsync(_containerId, _execId, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            }
            await _agent.CloseStdinAsync(_containerId, _execId, ct).ConfigureAwait(false);
        }
        catch (AgentException e) when (e.Kind is RuntimeErrorKind.FailedPrecondition or RuntimeErrorKind.NotFound)
        {
            // the process stopped reading or exited: the rest of stdin has nowhere to go
        }
    }
}
