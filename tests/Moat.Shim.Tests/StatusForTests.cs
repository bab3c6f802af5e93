using Moat.Oci;
using Moat.Runtime;
using Moat.Ttrpc;

namespace Moat.Shim.Tests;

/// <summary>The shim's one translation of typed errors into the statuses containerd reads.</summary>
public sealed class StatusForTests
{
    [Fact]
    public void TheAgentsErrorKeepsItsKindAndItsWords()
    {
        var t = TaskService.StatusFor(new AgentException(RuntimeErrorKind.NotFound, "container c1 not found"));
        Assert.NotNull(t);
        Assert.Equal(StatusCode.NotFound, t.Code);
        Assert.Equal("container c1 not found", t.Message);
    }

    [Fact]
    public void RuntimeStateAndSpecErrorsBecomeTheirStatuses()
    {
        Assert.Equal(StatusCode.FailedPrecondition, TaskService.StatusFor(new RuntimeException(RuntimeErrorKind.FailedPrecondition, "cannot grow the VM"))!.Code);
        Assert.Equal(StatusCode.Unavailable, TaskService.StatusFor(new RuntimeException(RuntimeErrorKind.GuestFailure, "the VM stopped"))!.Code);
        Assert.Equal(StatusCode.FailedPrecondition, TaskService.StatusFor(new ContainerStateException(ContainerOperation.Start, ContainerStatus.Running, "cannot start task c1: it is running"))!.Code);
        Assert.Equal(StatusCode.InvalidArgument, TaskService.StatusFor(new OciException("config.json: process: missing"))!.Code);
    }

    [Fact]
    public void AWireErrorPassesAsItIsAndAnUnexpectedOneIsLeftToTheServer()
    {
        var wire = new TtrpcException(StatusCode.AlreadyExists, "task c1 already exists");
        Assert.Same(wire, TaskService.StatusFor(wire));
        Assert.Null(TaskService.StatusFor(new NullReferenceException()));
    }
}
