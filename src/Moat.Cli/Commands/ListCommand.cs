using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
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
        cmd.SetAction(r => ErrorReporter.Guard(() =>
        {
            var rows = StateDir.List(r.GetValue(GlobalOptions.Root)!).OrderBy(x => x.Record.Created).ToList();
            if (r.GetValue(quiet))
            {
                foreach (var (rec, _, _) in rows)
                {
                    Console.WriteLine(rec.Id);
                }
            }
            else if (r.GetValue(format) == "json")
            {
                var array = new JsonArray(rows.Select(x => (JsonNode)new JsonObject
                {
                    ["ociVersion"] = "1.1.0",
                    ["id"] = x.Record.Id,
                    ["pid"] = x.Running ? x.Record.Pid : 0,
                    ["status"] = x.Running ? "running" : "stopped",
                    ["bundle"] = x.Record.Bundle,
                    ["rootfs"] = Path.Combine(x.Record.Bundle, "rootfs"),
                    ["created"] = x.Record.Created.ToString("O", CultureInfo.InvariantCulture),
                    ["owner"] = x.Owner,
                }).ToArray());
                Console.WriteLine(array.ToJsonString());
            }
            else
            {
                var table = new List<string[]> { new[] { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" } };
                table.AddRange(rows.Select(x => new[]
                {
                    x.Record.Id, x.Running ? x.Record.Pid.ToString(CultureInfo.InvariantCulture) : "0", x.Running ? "running" : "stopped",
                    x.Record.Bundle, x.Record.Created.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture), x.Owner,
                }));
                var widths = Enumerable.Range(0, 6).Select(i => table.Max(row => row[i].Length)).ToArray();
                foreach (var row in table)
                {
                    Console.WriteLine(string.Join("   ", row.Select((c, i) => i == 5 ? c : c.PadRight(widths[i]))).TrimEnd());
                }
            }
            return Task.FromResult(0);
        }));
        return cmd;
    }
}
