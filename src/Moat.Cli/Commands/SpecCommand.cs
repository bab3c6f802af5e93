using System.CommandLine;
using System.Text.Json;
using Moat.Oci;

namespace Moat.Cli.Commands;

/// <summary><c>moat spec</c>: write a default config.json, as <c>runc spec</c> does.</summary>
internal static class SpecCommand
{
    public static Command Create()
    {
        var bundle = new Option<string>("--bundle", "-b") { Description = "directory to write config.json into", DefaultValueFactory = _ => "." };
        var rootless = new Option<bool>("--rootless") { Description = "accepted for runc compatibility; Moat containers always run as root of their VM" };
        var cmd = new Command("spec", "create a new specification file (config.json)") { bundle, rootless };
        cmd.SetAction(r =>
        {
            var path = Path.Combine(r.GetValue(bundle)!, "config.json");
            if (File.Exists(path))
            {
                Console.Error.WriteLine($"moat: File {path} exists. Remove it first");
                return 1;
            }
            File.WriteAllText(path, JsonSerializer.Serialize(DefaultSpec.Create(), OciJsonContext.Default.Spec));
            return 0;
        });
        return cmd;
    }
}
