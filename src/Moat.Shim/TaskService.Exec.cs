using Google.Protobuf.WellKnownTypes;
using Moat.Oci;
using Moat.Protocols.Containerd.Events;
using Moat.Protocols.Containerd.Task;
using Moat.Ttrpc;
using Empty = Google.Protobuf.WellKnownTypes.Empty;
using ExecProcessRequest = Moat.Protocols.Containerd.Task.ExecProcessRequest;

namespace Moat.Shim;

internal sealed partial class TaskService
{
    public Task<Empty> Exec(ExecProcessRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        Require(ContainerOperation.Exec, c.Init, c.Paused);
        var p = new ShimProcess
        {
            ContainerId = c.Id,
            ExecId = request.ExecId,
            Io = new StdioPaths(request.Stdin, request.Stdout, request.Stderr, request.Terminal),
            ProcessJson = request.Spec?.Value.ToByteArray() ?? throw new TtrpcException(StatusCode.InvalidArgument, $"exec {request.ExecId}: no process spec"),
        };
        lock (c.Execs)
        {
            if (!c.Execs.TryAdd(request.ExecId, p))
            {
                throw new TtrpcException(StatusCode.AlreadyExists, $"exec {request.ExecId} already exists in task {c.Id}");
            }
        }
        _events.Publish("/tasks/exec-added", new TaskExecAdded { ContainerId = c.Id, ExecId = request.ExecId });
        return Task.FromResult(new Empty());
    }

    public async Task<Empty> ResizePty(ResizePtyRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        Process(c, request.ExecId);
        await c.Sandbox.Guest.ResizeTtyAsync(c.Id, request.ExecId, request.Height, request.Width, context.CancellationToken);
        return new Empty();
    }

    public async Task<Empty> CloseIO(CloseIORequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        var p = Process(c, request.ExecId);
        if (request.Stdin)
        {
            p.CloseStdin();
            await c.Sandbox.Guest.CloseStdinAsync(c.Id, request.ExecId, context.CancellationToken);
        }
        return new Empty();
    }

    public async Task<Empty> Pause(PauseRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        Require(ContainerOperation.Pause, c.Init, c.Paused);
        await c.Sandbox.Guest.PauseAsync(c.Id, context.CancellationToken);
        c.Paused = true;
        _events.Publish("/tasks/paused", new TaskPaused { ContainerId = c.Id });
        return new Empty();
    }

    public async Task<Empty> Resume(ResumeRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        Require(ContainerOperation.Resume, c.Init, c.Paused);
        await c.Sandbox.Guest.ResumeAsync(c.Id, context.CancellationToken);
        c.Paused = false;
        _events.Publish("/tasks/resumed", new TaskResumed { ContainerId = c.Id });
        return new Empty();
    }

    public Task<Empty> Checkpoint(CheckpointTaskRequest request, TtrpcCallContext context) =>
        throw new TtrpcException(StatusCode.Unimplemented, "checkpoint is not supported by Moat: a container's state lives in its VM");

    /// <summary>New limits for the container: the VM grows first when its memory or CPU limit needs it, then the guest cgroup changes.</summary>
    public async Task<Empty> Update(UpdateTaskRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        if (request.Resources is null)
        {
            return new Empty();
        }
        Moat.Oci.LinuxResources? resources;
        try
        {
            resources = System.Text.Json.JsonSerializer.Deserialize(request.Resources.Value.Span, Moat.Oci.OciJsonContext.Default.LinuxResources);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new TtrpcException(StatusCode.InvalidArgument, $"task {c.Id}: invalid resources: {e.Message}");
        }
        // The VM's size is the sum over its containers: resized under the lock Create and Delete take.
        await _sandboxLock.WaitAsync(context.CancellationToken);
        try
        {
            var limits = c.Sandbox.LimitsOf(c.Id);
            if (limits.With(resources) is var updated && updated != limits)
            {
                await c.Sandbox.ResizeForAsync(c.Id, updated, context.CancellationToken);
            }
        }
        finally
        {
            _sandboxLock.Release();
        }
        await c.Sandbox.Guest.UpdateAsync(c.Id, request.Resources.Value.Memory, context.CancellationToken);
        return new Empty();
    }

    public async Task<StatsResponse> Stats(StatsRequest request, TtrpcCallContext context)
    {
        var c = Get(request.Id);
        var metrics = CgroupMetrics.Parse(await c.Sandbox.Guest.StatsAsync(c.Id, context.CancellationToken));
        return new StatsResponse { Stats = new Any { TypeUrl = Moat.Protocols.Containerd.CgroupsV2.Metrics.Descriptor.FullName, Value = Google.Protobuf.MessageExtensions.ToByteString(metrics) } };
    }
}
