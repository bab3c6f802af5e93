using System.Text.Json;

namespace Moat.Hypervisor.Tests;

public sealed class CpuSlotsTests
{
    // The shape QEMU 7.2 answers for q35 with -smp 1,maxcpus=3 (plugged slot has a qom-path).
    private const string Answer = """
        [
          {"props": {"core-id": 2, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "type": "max-x86_64-cpu"},
          {"props": {"core-id": 1, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "type": "max-x86_64-cpu"},
          {"props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/unattached/device[0]", "type": "max-x86_64-cpu"}
        ]
        """;

    [Fact]
    public void Free_SkipsPluggedSlots_LowestCoreFirst()
    {
        var free = CpuSlots.Free(JsonDocument.Parse(Answer).RootElement).ToList();

        Assert.Equal(["cpu-socket0-core1-thread0", "cpu-socket0-core2-thread0"], free.Select(s => s.DeviceId));
        Assert.All(free, s => Assert.Equal("max-x86_64-cpu", s.Driver));
        Assert.Equal(["socket-id", "core-id", "thread-id"], free[0].Props.Select(p => p.Key));
    }

    [Fact]
    public void Free_NoneWhenAllPlugged()
    {
        var answer = """[{"props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/unattached/device[0]", "type": "host-x86_64-cpu"}]""";
        Assert.Empty(CpuSlots.Free(JsonDocument.Parse(answer).RootElement));
    }

    // Found by fuzzing: a malformed answer threw KeyNotFoundException/InvalidOperationException/FormatException
    // out of HotplugCpusAsync; it is QEMU breaking the protocol.
    [Theory]
    [InlineData("""{}""")]
    [InlineData("""[1]""")]
    [InlineData("""[{"props": {"core-id": 1}, "vcpus-count": 1}]""")]
    [InlineData("""[{"props": {"core-id": 1}, "type": 7}]""")]
    [InlineData("""[{"type": "max-x86_64-cpu"}]""")]
    [InlineData("""[{"props": [], "type": "max-x86_64-cpu"}]""")]
    [InlineData("""[{"props": {"core-id": "1"}, "type": "max-x86_64-cpu"}]""")]
    [InlineData("""[{"props": {"core-id": 1.5}, "type": "max-x86_64-cpu"}]""")]
    [InlineData("""[{"props": {"core-id": 1e99}, "type": "max-x86_64-cpu"}]""")]
    public void Free_MalformedAnswer_ThrowsProtocolError(string answer)
    {
        Assert.Throws<QmpProtocolException>(() => CpuSlots.Free(JsonDocument.Parse(answer).RootElement).ToList());
    }
}
