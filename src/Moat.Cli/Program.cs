using Moat.Cli;
using Moat.Runtime;

// The VMM launcher runs before anything else: it must not start threads or parse options.
if (args.Length > 0 && args[0] == VmmHelper.Verb)
{
    return VmmHelper.Run();
}
// The relay standing for a container process: unshares its network namespace on this (main) thread.
if (args.Length > 0 && args[0] == Moat.Cli.Runc.Relay.Verb)
{
    return await Moat.Cli.Runc.Relay.RunAsync();
}
// Blocking reads of the caller's stdin must not starve the pool that serves the agent connection.
ThreadPool.SetMinThreads(8, 8);
return await MoatCli.RunAsync(args);
