using System.Text.Json;
using Moat.Linux;
using Moat.Oci;

namespace Moat.Agent.Tests;

/// <summary>The capability sets the container-init helper gives a process, from process.capabilities.</summary>
public sealed class CapabilitiesTests
{
    private static CapabilitySets Of(string processJson) =>
        ContainerInit.CapabilitiesOf(JsonSerializer.Deserialize(processJson, OciJsonContext.Default.Process)!);

    [Theory]
    [InlineData("""{ "args": ["sh"], "cwd": "/", "user": { "uid": 0, "gid": 0 } }""")] // no capabilities object at all
    [InlineData("""{ "args": ["sh"], "cwd": "/", "user": { "uid": 0, "gid": 0 }, "capabilities": {} }""")] // containerd's drop: [ALL]
    [InlineData("""{ "args": ["sh"], "cwd": "/", "user": { "uid": 0, "gid": 0 }, "capabilities": { "bounding": [], "effective": [], "permitted": [], "inheritable": [], "ambient": [] } }""")]
    public void Absent_or_empty_sets_are_empty_including_the_bounding_set(string json)
    {
        // A full bounding set would hand root every capability back at execve.
        Assert.Equal(new CapabilitySets(0, 0, 0, 0, 0), Of(json));
    }

    [Fact]
    public void Each_set_gets_only_what_it_names()
    {
        var sets = Of("""
            { "args": ["sh"], "cwd": "/", "user": { "uid": 0, "gid": 0 },
              "capabilities": { "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"], "effective": ["CAP_KILL"],
                                "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"], "ambient": ["CAP_NET_BIND_SERVICE", "CAP_NO_SUCH_THING"] } }
            """);

        Assert.Equal(new CapabilitySets(
            Bounding: (1UL << 5) | (1UL << 10) | (1UL << 29),
            Effective: 1UL << 5,
            Permitted: (1UL << 5) | (1UL << 10),
            Inheritable: 0,
            Ambient: 1UL << 10), sets);
    }
}
