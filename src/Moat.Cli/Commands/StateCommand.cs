using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Moat.Cli.Runc;
using Moat.Oci;

namespace Moat.Cli.Commands;

/// <summary><c>moat state ID</c>: the OCI state document, with runc's extra fields (rootfs, created, owner).</summary>
internal static class StateCommand
{
    public static Command Create()
    {
        var id = new Argument<string>("container-id");
        var cmd = new Command("state", "print the state of a container as JSON") { id };
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var rec = CliStore.Read(r.GetValue(GlobalOptions.Root)!, r.GetValue(id)!);
            var status = await ShimConnection.StatusAsync(rec, ct);
            Console.WriteLine(ToJson(rec, status).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }));
        return cmd;
    }

    public static JsonObject ToJson(CliRecord rec, ContainerStatus status)
    {
        var annotations = new JsonObject();
        foreach (var (k, v) in rec.Annotations ?? [])
        {
            annotations[k] = v;
        }
        return new JsonObject
        {
            ["ociVersion"] = Spec.CurrentVersion,
            ["id"] = rec.Id,
            ["pid"] = status == ContainerStatus.Stopped ? 0 : rec.Pid,
            ["status"] = JsonSerializer.SerializeToNode(status, OciJsonContext.Default.ContainerStatus),
            ["bundle"] = rec.Bundle,
            ["rootfs"] = rec.Rootfs,
            ["created"] = rec.Created.ToString("O", CultureInfo.InvariantCulture),
            ["owner"] = Owner(rec.OwnerUid),
            ["annotations"] = annotations,
        };
    }

    private static string Owner(uint uid)
    {
        var name = File.ReadLines("/etc/passwd").Select(l => l.Split(':')).FirstOrDefault(f => f.Length > 2 && f[2] == uid.ToString(CultureInfo.InvariantCulture));
        return name?[0] ?? uid.ToString(CultureInfo.InvariantCulture);
    }
}
