using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Moat.Cli.Runc;
using Moat.Runtime;

namespace Moat.Cli.Commands;

/// <summary><c>moat list</c>: the containers under --root, as <c>runc list</c> shows them.</summary>
internal static class ListCommand
{
    public static Command Create()
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "display only container IDs" };
        var format = new Option<string>("--format", "-f") { Description = "table or json", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var cmd = new Command("list", "list the containers started by Moat under --root") { quiet, format };
        cmd.Aliases.Add("ls");
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var root = r.GetValue(GlobalOptions.Root)!;
            // Containers of moat run (VM in the moat process) and of create/start (VM in a shim daemon).
            var rows = StateDir.List(root).Select(x => new Row(x.Record.Id, x.Running ? x.Record.Pid : 0, x.Running ? "running" : "stopped",
                x.Record.Bundle, Path.Combine(x.Record.Bundle, "rootfs"), x.Record.Created, x.Owner)).ToList();
            foreach (var rec in CliStore.All(root))
            {
                var state = StateCommand.ToJson(rec, await ShimConnection.StatusAsync(rec, ct));
                rows.Add(new Row(rec.Id, (int)state["pid"]!, (string)state["status"]!, rec.Bundle, rec.Rootfs, rec.Created, (string)state["owner"]!));
            }
            rows = rows.OrderBy(x => x.Created).ToList();
            if (r.GetValue(quiet))
            {
                foreach (var row in rows)
                {
                    Console.WriteLine(row.Id);
                }
            }
            else if (r.GetValue(format) == "json")
            {
                var array = new JsonArray(rows.Select(x => (JsonNode)new JsonObject
                {
                    ["ociVersion"] = Moat.Oci.Spec.CurrentVersion,
                    ["id"] = x.Id,
                    ["pid"] = x.Pid,
                    ["status"] = x.Status,
                    ["bundle"] = x.Bundle,
                    ["rootfs"] = x.Rootfs,
                    ["created"] = x.Created.ToString("O", CultureInfo.InvariantCulture),
                    ["owner"] = x.Owner,
                }).ToArray());
                Console.WriteLine(array.ToJsonString());
            }
            else
            {
                var table = new List<string[]> { new[] { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" } };
                table.AddRange(rows.Select(x => new[]
                {
                    x.Id, x.Pid.ToString(CultureInfo.InvariantCulture), x.Status,
                    x.Bundle, x.Created.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture), x.Owner,
                }));
                var widths = Enumerable.Range(0, 6).Select(i => table.Max(row => row[i].Length)).ToArray();
                foreach (var row in table)
                {
                    Console.WriteLine(string.Join("   ", row.Select((c, i) => i == 5 ? c : c.PadRight(widths[i]))).TrimEnd());
                }
            }
            return 0;
        }));
        return cmd;
    }

    private sealed record Row(string Id, int Pid, string Status, string Bundle, string Rootfs, DateTime Created, string Owner);
}
