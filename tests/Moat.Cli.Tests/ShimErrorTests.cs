using Moat.Cli.Runc;
using Moat.Runtime;
using Moat.Ttrpc;

namespace Moat.Cli.Tests;

/// <summary>The CLI's edge: a shim status becomes a typed error of the same kind, its message naming the container once.</summary>
public sealed class ShimErrorTests
{
    [Theory]
    [InlineData(StatusCode.NotFound, RuntimeErrorKind.NotFound)]
    [InlineData(StatusCode.FailedPrecondition, RuntimeErrorKind.FailedPrecondition)]
    [InlineData(StatusCode.InvalidArgument, RuntimeErrorKind.InvalidArgument)]
    [InlineData(StatusCode.Unavailable, RuntimeErrorKind.GuestFailure)]
    [InlineData(StatusCode.Unimplemented, RuntimeErrorKind.Unsupported)]
    public void AStatusKeepsItsKind(StatusCode code, RuntimeErrorKind kind) =>
        Assert.Equal(kind, ShimConnection.Translate(new TtrpcException(code, "x"), "c1").Kind);

    [Fact]
    public void TheContainerIsNamedOnce()
    {
        Assert.Equal("cannot start task c1: it is running", ShimConnection.Translate(new TtrpcException(StatusCode.FailedPrecondition, "cannot start task c1: it is running"), "c1").Message);
        Assert.Equal("container c1: exec \"/nope\": No such file or directory",
            ShimConnection.Translate(new TtrpcException(StatusCode.InvalidArgument, "exec \"/nope\": No such file or directory"), "c1").Message);
    }
}
