using System.CommandLine;
using System.Text.Json;
using Moat.Node;
using Moat.Runtime;

namespace Moat.Cli.Commands;

/// <summary><c>moat check</c> (alias <c>kata-check</c>): can this host run Moat VMs, and how fast.</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var verbose = new Option<bool>("--verbose", "-v") { Description = "also list every check that passed" };
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };
        var cmd = new Command("check", "check that this host can run Moat VMs (CPU, KVM, modules, QEMU, guest image)") { verbose, json };
        cmd.Aliases.Add("kata-check");
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var options = GlobalOptions.RuntimeOptions(r);
            var report = await HostCheck.RunAsync(options, new PhaseLog(options.Debug ? Console.Error.WriteLine : null), ct);
            if (r.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(report, CheckJson.Default.CheckReport));
            }
            else
            {
                foreach (var item in report.Items.Where(i => r.GetValue(verbose) || i.Level != "info"))
                {
                    Console.WriteLine($"{item.Level.ToUpperInvariant()}: {item.Name}: {item.Detail}");
                }
                Console.WriteLine(report.Verdict);
            }
            return report.CanCreateVms ? 0 : 1;
        }));
        return cmd;
    }
}
