using System.CommandLine;
using System.Diagnostics;
using Moat.Cli.Runc;

namespace Moat.Cli.Commands;

/// <summary><c>moat ps [--format table|json] ID [-- PS_ARGS]</c>: the host processes that stand for the container's processes.</summary>
internal static class PsCommand
{
    public static Command Create()
    {
        var format = new Option<string>("--format", "-f") { DefaultValueFactory = _ => "table", Description = "table or json" };
        format.AcceptOnlyFromAmong("table", "json");
        var id = new Argument<string>("container-id");
        var psArgs = new Argument<string[]>("ps-args") { Arity = ArgumentArity.ZeroOrMore, Description = "arguments for ps(1) (default -ef)" };
        var cmd = new Command("ps", "list the processes of a container (their host relays)") { format, id, psArgs };
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var root = r.GetValue(GlobalOptions.Root)!;
            var rec = CliStore.Read(root, r.GetValue(id)!);
            var status = await ShimConnection.StatusAsync(rec, ct);
            var pids = (status == Moat.Oci.ContainerStatus.Stopped ? [] : new[] { rec.Pid }).Concat(CliStore.ExecPids(root, rec.Id)).ToHashSet();
            if (r.GetValue(format) == "json")
            {
                Console.WriteLine("[" + string.Join(",", pids) + "]");
                return 0;
            }
            var psi = new ProcessStartInfo("ps") { RedirectStandardOutput = true };
            var extra = r.GetValue(psArgs) is { Length: > 0 } a ? a : ["-ef"];
            foreach (var x in extra)
            {
                psi.ArgumentList.Add(x);
            }
            using var ps = Process.Start(psi)!;
            var lines = (await ps.StandardOutput.ReadToEndAsync(ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            await ps.WaitForExitAsync(ct);
            var column = Array.IndexOf(lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), "PID");
            if (column < 0)
            {
                throw new Moat.Runtime.RuntimeException(Moat.Runtime.RuntimeErrorKind.InvalidArgument, "ps output has no PID column: keep PID in the ps arguments");
            }
            Console.WriteLine(lines[0]);
            foreach (var line in lines.Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > column && int.TryParse(fields[column], out var pid) && pids.Contains(pid))
                {
                    Console.WriteLine(line);
                }
            }
            return 0;
        }));
        return cmd;
    }
}
