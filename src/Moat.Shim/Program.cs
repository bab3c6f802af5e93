using Moat.Runtime;
using Moat.Shim;

if (args.Length > 0 && args[0] == VmmHelper.Verb)
{
    return VmmHelper.Run();
}
ThreadPool.SetMinThreads(8, 8);
if (args.Contains("-v") || args.Contains("--version") || args.Contains("-version"))
{
    Console.WriteLine($"containerd-shim-moat-v2: Moat {ShimVersion.Value}");
    return 0;
}
ShimArgs shim;
try
{
    shim = ShimArgs.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"containerd-shim-moat-v2: {e.Message}");
    return 1;
}
return shim.Command switch
{
    "start" => await StartCommand.RunAsync(shim),
    "delete" => await DeleteCommand.RunAsync(shim),
    ShimPaths.ServeVerb => await ShimDaemon.RunAsync(shim),
    _ => Usage(shim.Command),
};

static int Usage(string command)
{
    Console.Error.WriteLine($"containerd-shim-moat-v2: unknown command \"{command}\": containerd runs this shim with 'start' or 'delete'");
    return 1;
}

internal static class ShimVersion
{
    public const string Value = "0.1.0";
}
