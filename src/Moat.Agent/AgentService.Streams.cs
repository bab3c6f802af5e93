using Moat.Linux;
using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Agent;

internal sealed partial class AgentService
{
    private const int MaxRead = 1 << 20;

    public Task<WriteStreamResponse> WriteStdin(WriteStreamRequest request, TtrpcCallContext context)
    {
        var p = Get(request.ContainerId).Process(request.ExecId);
        var fd = p.Stdin ?? throw new AgentException(AgentErrorKind.FailedPrecondition, "stdin is closed");
        try
        {
            Pipes.WriteAll(fd.Fd, request.Data.Span);
        }
        catch (ErrnoException e) when (e.Errno == Moat.Linux.Interop.Libc.EPIPE)
        {
            throw new AgentException(AgentErrorKind.FailedPrecondition, "stdin is closed: the process stopped reading");
        }
        return Task.FromResult(new WriteStreamResponse { Len = (uint)request.Data.Length });
    }

    public Task<ReadStreamResponse> ReadStdout(ReadStreamRequest request, TtrpcCallContext context) =>
        Read(Get(request.ContainerId).Process(request.ExecId).Stdout, request, context);

    public Task<ReadStreamResponse> ReadStderr(ReadStreamRequest request, TtrpcCallContext context)
    {
        var p = Get(request.ContainerId).Process(request.ExecId);
        return p.Stderr is null
            ? Task.FromResult(new ReadStreamResponse { Eof = true })
            : Read(p.Stderr, request, context);
    }

    private static async Task<ReadStreamResponse> Read(OutputStream s, ReadStreamRequest request, TtrpcCallContext context)
    {
        var max = request.Len == 0 ? MaxRead : (int)Math.Min(request.Len, MaxRead);
        var (data, eof) = await s.ReadAsync(max, context.CancellationToken);
        // The memory is ours alone: wrap it instead of copying it once more.
        return new ReadStreamResponse { Data = Google.Protobuf.UnsafeByteOperations.UnsafeWrap(data), Eof = eof };
    }

    public Task<Empty> CloseStdin(CloseStdinRequest request, TtrpcCallContext context)
    {
        var p = Get(request.ContainerId).Process(request.ExecId);
        if (p.PtyMaster is not null)
        {
            // A terminal has no separate stdin to close: send EOF (^D) as a tty driver would.
            if (p.Stdin is { } fd)
            {
                Pipes.WriteAll(fd.Fd, [4]);
            }
        }
        else
        {
            p.CloseStdin();
        }
        return Task.FromResult(new Empty());
    }

    public Task<Empty> TtyWinResize(TtyWinResizeRequest request, TtrpcCallContext context)
    {
        var p = Get(request.ContainerId).Process(request.ExecId);
        var master = p.PtyMaster ?? throw new AgentException(AgentErrorKind.FailedPrecondition, "process has no terminal");
        Pty.Resize(master.Fd, (ushort)request.Row, (ushort)request.Column);
        return Task.FromResult(new Empty());
    }
}
