using System.Globalization;
using System.Text.Json.Nodes;

namespace Moat.Hypervisor;

/// <summary>
/// One QMP command with its arguments, built by name: the typed commands Moat sends a running
/// QEMU (hotplug, migration), in the forms QEMU 7.2 takes. <see cref="QmpClient.ExecuteAsync"/>
/// sends them.
/// </summary>
public sealed record QmpCommand(string Name, JsonObject? Arguments)
{
    /// <summary>RAM for a DIMM: <c>object-add memory-backend-ram</c>, id <c>mem-ID</c>.</summary>
    public static QmpCommand MemoryBackend(string id, int sizeMiB) => new("object-add", new JsonObject
    {
        ["qom-type"] = "memory-backend-ram",
        ["id"] = "mem-" + id,
        ["size"] = (long)sizeMiB << 20,
    });

    /// <summary>The DIMM on that RAM: <c>device_add pc-dimm</c>, id <c>dimm-ID</c> (the guest onlines it).</summary>
    public static QmpCommand Dimm(string id) => new("device_add", new JsonObject
    {
        ["driver"] = "pc-dimm",
        ["id"] = "dimm-" + id,
        ["memdev"] = "mem-" + id,
    });

    public static readonly QmpCommand QueryHotpluggableCpus = new("query-hotpluggable-cpus", null);

    /// <summary>A vCPU into a free slot (<see cref="CpuSlots.Free"/>): <c>device_add</c> with the slot's topology.</summary>
    public static QmpCommand Cpu(CpuSlot slot)
    {
        var args = new JsonObject { ["driver"] = slot.Driver, ["id"] = slot.DeviceId };
        foreach (var (name, value) in slot.Props)
        {
            args[name] = value;
        }
        return new("device_add", args);
    }

    /// <summary>Migration leaves file-backed shared RAM out of the stream (both ends must say so).</summary>
    public static readonly QmpCommand IgnoreSharedMemory = new("migrate-set-capabilities", new JsonObject
    {
        ["capabilities"] = new JsonArray(new JsonObject { ["capability"] = "x-ignore-shared", ["state"] = true }),
    });

    /// <summary>Saves the device state into <paramref name="path"/> (QEMU runs <c>cat</c>).</summary>
    public static QmpCommand MigrateToFile(string path) => new("migrate", new JsonObject { ["uri"] = "exec:cat > " + path });

    /// <summary>Loads a device state from an fd QEMU was given at start.</summary>
    public static QmpCommand MigrateIncomingFromFd(int fd) =>
        new("migrate-incoming", new JsonObject { ["uri"] = "fd:" + fd.ToString(CultureInfo.InvariantCulture) });

    public static readonly QmpCommand QueryMigrate = new("query-migrate", null);
}
