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
            try
            {
                Moat.Linux.AtomicFile.CreateNew(path, JsonSerializer.SerializeToUtf8Bytes(DefaultSpec.Create(), OciJsonContext.Default.Spec));
            }
            catch (IOException) when (File.Exists(path) || new FileInfo(path).LinkTarget is not null)
            {
                Console.Error.WriteLine($"moat: File {path} exists. Remove it first");
                return 1;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"moat: cannot write {path}: {e.Message}: pass --bundle with a writable directory");
                return 1;
            }
            return 0;
        });
        return cmd;
    }
}
