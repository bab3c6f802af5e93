using Moat.Cli;
using Moat.Runtime;

// The VMM launcher runs before anything else: it must not start threads or parse options.
if (args.Length > 0 && args[0] == VmmHelper.Verb)
{
    return VmmHelper.Run();
}
return await MoatCli.RunAsync(args);
