namespace Moat.Integration.Tests.Containerd;

/// <summary>The local busybox image and the private containerd the shim tests stand on, checked with runc.</summary>
[Collection("vm")]
public sealed class ContainerdImageTests : IClassFixture<ContainerdFixture>
{
    private readonly ContainerdFixture _containerd;

    public ContainerdImageTests(ContainerdFixture containerd) => _containerd = containerd;

    [Fact]
    public async Task LocalBusyboxImageIsImportedUnderItsDockerHubName()
    {
        var r = await _containerd.Ctr("images", "ls", "-q");
        Assert.Contains(ContainerdFixture.Image, r.Stdout.Split('\n'));
    }

    [Fact]
    public async Task RuncRunsTheImage()
    {
        var r = await _containerd.Ctr("run", "--rm", "--runtime", "io.containerd.runc.v2", ContainerdFixture.Image,
            "runc-" + Guid.NewGuid().ToString("N")[..8], "sh", "-c", "echo hello from busybox; exit 3");
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Equal("hello from busybox\n", r.Stdout);
    }
}
