using Google.Protobuf.WellKnownTypes;
using Moat.Protocols.Containerd.Events;
using Moat.Protocols.Containerd.Task;
using Moat.Runtime.Core;
using Moat.Ttrpc;
using Empty = Google.Protobuf.WellKnownTypes.Empty;
using ExecProcessRequest = Moat.Protocols.Containerd.Task.ExecProcessRequest;

namespace Moat.Shim;

internal sealed partial class TaskService
{
    public Task<Empty> Exec(ExecProcessRequest request, TtrpcCallContext context)
    {
        var json = request.Spec?.Value.ToByteArray() ?? throw new TtrpcException(StatusCode.InvalidArgument, $"exec {request.ExecId}: no process spec");
        _core.AddExec(request.Id, request.ExecId, new ProcessIo(request.Stdin, request.Stdout, request.Stderr, request.Terminal), json);
        _events.Publish("/tasks/exec-added", new TaskExecAdded { ContainerId = request.Id, ExecId = request.ExecId });
        return Task.FromResult(new Empty());
    }

    public async Task<Empty> ResizePty(ResizePtyRequest request, TtrpcCallContext context)
    {
        await _core.ResizeTtyAsync(request.Id, request.ExecId, request.Height, request.Width, context.CancellationToken);
        return new Empty();
    }

    public async Task<Empty> CloseIO(CloseIORequest request, TtrpcCallContext context)
    {
        if (request.Stdin)
        {
            await _core.CloseStdinAsync(request.Id, request.ExecId, context.CancellationToken);
        }
        return new Empty();
    }

    public async Task<Empty> Pause(PauseRequest request, TtrpcCallContext context)
    {
        await _core.PauseAsync(request.Id, context.CancellationToken);
        _events.Publish("/tasks/paused", new TaskPaused { ContainerId = request.Id });
        return new Empty();
    }

    public async Task<Empty> Resume(ResumeRequest request, TtrpcCallContext context)
    {
        await _core.ResumeAsync(request.Id, context.CancellationToken);
        _events.Publish("/tasks/resumed", new TaskResumed { ContainerId = request.Id });
        return new Empty();
    }

    public Task<Empty> Checkpoint(CheckpointTaskRequest request, TtrpcCallContext context) =>
        throw new TtrpcException(StatusCode.Unimplemented, "checkpoint is not supported by Moat: a container's state lives in its VM");

    public async Task<Empty> Update(UpdateTaskRequest request, TtrpcCallContext context)
    {
        if (request.Resources is not null)
        {
            await _core.UpdateAsync(request.Id, request.Resources.Value.ToByteArray(), context.CancellationToken);
        }
        return new Empty();
    }

    public async Task<StatsResponse> Stats(StatsRequest request, TtrpcCallContext context)
    {
        var metrics = CgroupMetrics.Parse(await _core.StatsAsync(request.Id, context.CancellationToken));
        return new StatsResponse { Stats = new Any { TypeUrl = Moat.Protocols.Containerd.CgroupsV2.Metrics.Descriptor.FullName, Value = Google.Protobuf.MessageExtensions.ToByteString(metrics) } };
    }
}
