using Moat.Bench;

// moat-bench VERB --option value ... [-- COMMAND]: the measuring and reporting half of bench/run.sh.
try
{
    if (args.Length == 0)
    {
        throw new BenchException("usage: moat-bench cri-start|cri-cycle|density|network|workload|hyperfine|phases|cpu-profile|report --option value ...");
    }

    var options = new Args(args[1..]);
    return args[0] switch
    {
        "cri-start" => await CriStartCommand.RunAsync(options),
        "cri-cycle" => await CriCycleCommand.RunAsync(options),
        "density" => await DensityCommand.RunAsync(options),
        "network" => await NetworkCommand.RunAsync(options),
        "workload" => await ContainerWorkloadCommand.RunAsync(options),
        "hyperfine" => ImportCommands.Hyperfine(options),
        "phases" => ImportCommands.Phases(options),
        "cpu-profile" => CpuProfileCommand.Run(options),
        "cleanup" => await CleanupCommand.RunAsync(options),
        "report" => ReportCommand.Run(options),
        _ => throw new BenchException($"unknown verb {args[0]}"),
    };
}
catch (BenchException e)
{
    Console.Error.WriteLine($"moat-bench: {e.Message}");
    return 1;
}
catch (Grpc.Core.RpcException e)
{
    Console.Error.WriteLine($"moat-bench: {e.Status.StatusCode}: {e.Status.Detail}");
    return 1;
}
