using System.Text.Json;

namespace Moat.Hypervisor.Tests;

/// <summary>The typed QMP commands as QEMU 7.2 reads them (the JSON QmpClient sends as "arguments").</summary>
public sealed class QmpCommandTests
{
    private static string Json(QmpCommand c) => c.Name + " " + (c.Arguments?.ToJsonString() ?? "null");

    [Fact]
    public void MemoryHotplugIsARamBackendThenAPcDimmOnIt()
    {
        Assert.Equal("""object-add {"qom-type":"memory-backend-ram","id":"mem-3","size":402653184}""", Json(QmpCommand.MemoryBackend("3", 384)));
        Assert.Equal("""device_add {"driver":"pc-dimm","id":"dimm-3","memdev":"mem-3"}""", Json(QmpCommand.Dimm("3")));
    }

    [Fact]
    public void AVcpuGoesIntoTheSlotQemuOffered()
    {
        using var answer = JsonDocument.Parse("""
            [{"type":"qemu64-x86_64-cpu","vcpus-count":1,"props":{"core-id":1,"thread-id":0,"socket-id":0}},
             {"type":"qemu64-x86_64-cpu","vcpus-count":1,"props":{"core-id":0,"thread-id":0,"socket-id":0},"qom-path":"/machine/unattached/device[0]"}]
            """);
        var slot = CpuSlots.Free(answer.RootElement).Single();
        var json = JsonDocument.Parse(QmpCommand.Cpu(slot).Arguments!.ToJsonString()).RootElement;
        Assert.Equal("device_add", QmpCommand.Cpu(slot).Name);
        Assert.Equal("qemu64-x86_64-cpu", json.GetProperty("driver").GetString());
        Assert.Equal(slot.DeviceId, json.GetProperty("id").GetString());
        Assert.Equal(1, json.GetProperty("core-id").GetInt64());
        Assert.Equal(0, json.GetProperty("socket-id").GetInt64());
    }

    [Fact]
    public void TemplatesMigrateWithoutTheSharedRam()
    {
        Assert.Equal("""migrate-set-capabilities {"capabilities":[{"capability":"x-ignore-shared","state":true}]}""", Json(QmpCommand.IgnoreSharedMemory));
        Assert.Equal("migrate", QmpCommand.MigrateToFile("/t/state").Name);
        Assert.Equal("exec:cat > /t/state", (string?)QmpCommand.MigrateToFile("/t/state").Arguments!["uri"]);
        Assert.Equal("migrate-incoming", QmpCommand.MigrateIncomingFromFd(7).Name);
        Assert.Equal("fd:7", (string?)QmpCommand.MigrateIncomingFromFd(7).Arguments!["uri"]);
        Assert.Equal("query-migrate null", Json(QmpCommand.QueryMigrate));
    }
}
