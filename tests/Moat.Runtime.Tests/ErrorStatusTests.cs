using Moat.Ttrpc;

namespace Moat.Runtime.Tests;

/// <summary>An error's kind survives the hops agent → shim → CLI, each of which goes through a ttrpc status.</summary>
public sealed class ErrorStatusTests
{
    [Theory]
    [InlineData(RuntimeErrorKind.InvalidArgument)]
    [InlineData(RuntimeErrorKind.NotFound)]
    [InlineData(RuntimeErrorKind.AlreadyExists)]
    [InlineData(RuntimeErrorKind.FailedPrecondition)]
    [InlineData(RuntimeErrorKind.GuestFailure)]
    [InlineData(RuntimeErrorKind.Timeout)]
    [InlineData(RuntimeErrorKind.Unsupported)]
    [InlineData(RuntimeErrorKind.Internal)]
    public void AKindSurvivesAStatusHop(RuntimeErrorKind kind) =>
        Assert.Equal(kind, ErrorStatus.KindOf(ErrorStatus.StatusOf(kind)));

    [Fact]
    public void AMissingDependencyReachesContainerdAsAFailedPrecondition() =>
        Assert.Equal(StatusCode.FailedPrecondition, ErrorStatus.StatusOf(RuntimeErrorKind.MissingDependency));

    [Fact]
    public void EveryKindHasAStatusOtherThanOk()
    {
        foreach (var kind in Enum.GetValues<RuntimeErrorKind>())
        {
            Assert.NotEqual(StatusCode.OK, ErrorStatus.StatusOf(kind));
        }
    }
}
