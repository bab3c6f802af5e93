namespace Moat.Oci.Tests;

public sealed class ContainerTransitionsTests
{
    public static TheoryData<ContainerOperation, ContainerStatus> Allowed => new()
    {
        { ContainerOperation.Start, ContainerStatus.Created },
        { ContainerOperation.Kill, ContainerStatus.Created },
        { ContainerOperation.Kill, ContainerStatus.Running },
        { ContainerOperation.Kill, ContainerStatus.Paused },
        { ContainerOperation.Exec, ContainerStatus.Running },
        { ContainerOperation.Pause, ContainerStatus.Running },
        { ContainerOperation.Resume, ContainerStatus.Paused },
        { ContainerOperation.Update, ContainerStatus.Running },
        { ContainerOperation.Delete, ContainerStatus.Created },
        { ContainerOperation.Delete, ContainerStatus.Stopped },
        { ContainerOperation.ForceDelete, ContainerStatus.Running },
    };

    [Theory]
    [MemberData(nameof(Allowed))]
    public void AllowedTransitionsPass(ContainerOperation op, ContainerStatus status) =>
        Assert.Null(ContainerTransitions.Refusal(op, status, "container c1"));

    [Theory]
    [InlineData(ContainerOperation.Start, ContainerStatus.Running, "already running")]
    [InlineData(ContainerOperation.Start, ContainerStatus.Paused, "already running")]
    [InlineData(ContainerOperation.Start, ContainerStatus.Stopped, "it has stopped")]
    [InlineData(ContainerOperation.Kill, ContainerStatus.Stopped, "container not running")]
    [InlineData(ContainerOperation.Exec, ContainerStatus.Created, "it is created, not running")]
    [InlineData(ContainerOperation.Pause, ContainerStatus.Paused, "container not running")]
    [InlineData(ContainerOperation.Resume, ContainerStatus.Running, "container not paused")]
    [InlineData(ContainerOperation.Update, ContainerStatus.Stopped, "it is stopped")]
    [InlineData(ContainerOperation.Delete, ContainerStatus.Running, "not stopped: running: stop it first or pass --force")]
    [InlineData(ContainerOperation.Delete, ContainerStatus.Paused, "not stopped: paused")]
    public void RefusalsSayWhyInRuncsWords(ContainerOperation op, ContainerStatus status, string words)
    {
        var e = Assert.Throws<ContainerStateException>(() => ContainerTransitions.Check(op, status, "container c1"));
        Assert.Contains(words, e.Message);
        Assert.Contains("c1", e.Message);
        Assert.Equal(op, e.Operation);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void EveryOperationHasAnAnswerForEveryStatus()
    {
        foreach (var op in Enum.GetValues<ContainerOperation>())
        {
            foreach (var status in Enum.GetValues<ContainerStatus>())
            {
                var why = ContainerTransitions.Refusal(op, status, "container c1");
                Assert.True(why is null || why.Contains("c1", StringComparison.Ordinal), $"{op} in {status}: {why}");
            }
        }
    }
}
