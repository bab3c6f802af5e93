using Google.Protobuf.WellKnownTypes;
using Moat.Protocols.Containerd.Task;
using Moat.Ttrpc;

namespace Moat.Protocols.Containerd;

/// <summary>containerd's shim v2 task API (containerd.task.v2.Task), as the shim implements it.</summary>
public interface ITaskService
{
    Task<StateResponse> State(StateRequest request, TtrpcCallContext context);
    Task<CreateTaskResponse> Create(CreateTaskRequest request, TtrpcCallContext context);
    Task<StartResponse> Start(StartRequest request, TtrpcCallContext context);
    Task<DeleteResponse> Delete(DeleteRequest request, TtrpcCallContext context);
    Task<PidsResponse> Pids(PidsRequest request, TtrpcCallContext context);
    Task<Empty> Pause(PauseRequest request, TtrpcCallContext context);
    Task<Empty> Resume(ResumeRequest request, TtrpcCallContext context);
    Task<Empty> Checkpoint(CheckpointTaskRequest request, TtrpcCallContext context);
    Task<Empty> Kill(KillRequest request, TtrpcCallContext context);
    Task<Empty> Exec(ExecProcessRequest request, TtrpcCallContext context);
    Task<Empty> ResizePty(ResizePtyRequest request, TtrpcCallContext context);
    Task<Empty> CloseIO(CloseIORequest request, TtrpcCallContext context);
    Task<Empty> Update(UpdateTaskRequest request, TtrpcCallContext context);
    Task<WaitResponse> Wait(WaitRequest request, TtrpcCallContext context);
    Task<StatsResponse> Stats(StatsRequest request, TtrpcCallContext context);
    Task<ConnectResponse> Connect(ConnectRequest request, TtrpcCallContext context);
    Task<Empty> Shutdown(ShutdownRequest request, TtrpcCallContext context);
}

public static class TaskServiceBinder
{
    public const string ServiceName = "containerd.task.v2.Task";

    public static void Bind(TtrpcServer server, ITaskService s)
    {
        const string n = ServiceName;
        server.AddUnary<StateRequest, StateResponse>(n, "State", StateRequest.Parser, s.State);
        server.AddUnary<CreateTaskRequest, CreateTaskResponse>(n, "Create", CreateTaskRequest.Parser, s.Create);
        server.AddUnary<StartRequest, StartResponse>(n, "Start", StartRequest.Parser, s.Start);
        server.AddUnary<DeleteRequest, DeleteResponse>(n, "Delete", DeleteRequest.Parser, s.Delete);
        server.AddUnary<PidsRequest, PidsResponse>(n, "Pids", PidsRequest.Parser, s.Pids);
        server.AddUnary<PauseRequest, Empty>(n, "Pause", PauseRequest.Parser, s.Pause);
        server.AddUnary<ResumeRequest, Empty>(n, "Resume", ResumeRequest.Parser, s.Resume);
        server.AddUnary<CheckpointTaskRequest, Empty>(n, "Checkpoint", CheckpointTaskRequest.Parser, s.Checkpoint);
        server.AddUnary<KillRequest, Empty>(n, "Kill", KillRequest.Parser, s.Kill);
        server.AddUnary<ExecProcessRequest, Empty>(n, "Exec", ExecProcessRequest.Parser, s.Exec);
        server.AddUnary<ResizePtyRequest, Empty>(n, "ResizePty", ResizePtyRequest.Parser, s.ResizePty);
        server.AddUnary<CloseIORequest, Empty>(n, "CloseIO", CloseIORequest.Parser, s.CloseIO);
        server.AddUnary<UpdateTaskRequest, Empty>(n, "Update", UpdateTaskRequest.Parser, s.Update);
        server.AddUnary<WaitRequest, WaitResponse>(n, "Wait", WaitRequest.Parser, s.Wait);
        server.AddUnary<StatsRequest, StatsResponse>(n, "Stats", StatsRequest.Parser, s.Stats);
        server.AddUnary<ConnectRequest, ConnectResponse>(n, "Connect", ConnectRequest.Parser, s.Connect);
        server.AddUnary<ShutdownRequest, Empty>(n, "Shutdown", ShutdownRequest.Parser, s.Shutdown);
    }
}
