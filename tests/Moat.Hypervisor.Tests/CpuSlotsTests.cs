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
}
