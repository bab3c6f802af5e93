using System.Text.Json;

namespace Moat.Oci.Tests;

public class ContainerStateTests
{
    [Theory]
    [InlineData(ContainerStatus.Creating, "creating")]
    [InlineData(ContainerStatus.Created, "created")]
    [InlineData(ContainerStatus.Running, "running")]
    [InlineData(ContainerStatus.Stopped, "stopped")]
    [InlineData(ContainerStatus.Paused, "paused")]
    public void Status_is_serialized_as_spec_string(ContainerStatus status, string expected)
    {
        var state = new ContainerState { Id = "c1", Status = status, Pid = 42, Bundle = "/b" };

        var json = JsonSerializer.Serialize(state, OciJsonContext.Default.ContainerState);

        Assert.Contains($"\"status\": \"{expected}\"", json, StringComparison.Ordinal);
        var back = JsonSerializer.Deserialize(json, OciJsonContext.Default.ContainerState)!;
        Assert.Equal(status, back.Status);
        Assert.Equal(42, back.Pid);
    }

    [Fact]
    public void Defaults_and_omissions()
    {
        var state = new ContainerState { Id = "c1", Status = ContainerStatus.Stopped, Bundle = "/b" };

        var json = JsonSerializer.Serialize(state, OciJsonContext.Default.ContainerState);

        Assert.Contains("\"ociVersion\": \"1.1.0\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\"pid\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("annotations", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_status_is_rejected()
    {
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize(
            "{\"ociVersion\":\"1.1.0\",\"id\":\"x\",\"status\":\"zombie\",\"bundle\":\"/b\"}",
            OciJsonContext.Default.ContainerState));
    }
}
