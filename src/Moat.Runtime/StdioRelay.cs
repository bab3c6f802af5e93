using Google.Protobuf;
using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Runtime;

/// <summary>Copies a guest process's stdout/stderr to host streams and host stdin to the guest, over the agent.</summary>
public sealed class StdioRelay
{
    private readonly AgentClient _agent;
    private readonly string _containerId;
    private readonly string _execId;

    public StdioRelay(AgentClient agent, string containerId, string execId)
    {
        _agent = agent;
        _containerId = containerId;
        _execId = execId;
    }

    /// <summary>Pumps until the guest reports EOF on that stream.</summary>
    public async Task PumpOutputAsync(bool stderr, Stream destination, CancellationToken ct)
    {
        var request = new ReadStreamRequest { ContainerId = _containerId, ExecId = _execId, Len = 1 << 20 };
        while (true)
        {
            var r = stderr
                ? await _agent.ReadStderrAsync(request, ct).ConfigureAwait(false)
                : await _agent.ReadStdoutAsync(request, ct).ConfigureAwait(false);
            if (!r.Data.IsEmpty)
            {
                await destination.WriteAsync(r.Data.Memory, ct).ConfigureAwait(false);
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
                await _agent.WriteStdinAsync(new WriteStreamRequest
                {
                    ContainerId = _containerId,
                    ExecId = _execId,
                    Data = ByteString.CopyFrom(buffer, 0, n),
                }, ct).ConfigureAwait(false);
            }
            await _agent.CloseStdinAsync(new CloseStdinRequest { ContainerId = _containerId, ExecId = _execId }, ct).ConfigureAwait(false);
        }
        catch (TtrpcException e) when (e.Code is StatusCode.FailedPrecondition or StatusCode.NotFound)
        {
            // the process stopped reading or exited: the rest of stdin has nowhere to go
        }
    }
}
