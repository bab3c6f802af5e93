using Moat.Agent;

if (Modprobe.Invoked(args))
{
    return Modprobe.Run(args); // the kernel's request_module, through the /sbin/modprobe link
}

// Reads of the virtio port and of pipes block pool threads; with one vCPU the pool would start
// with a single worker and add more only every ~0.5 s of starvation (measured: the first ttrpc
// request took 1.05 s under TCG). Start with enough workers instead.
ThreadPool.SetMinThreads(16, 16);

return args.FirstOrDefault() switch
{
    InitSpec.InitMode => ContainerInit.Run(exec: false, standby: args.Skip(1).Contains(InitSpec.StandbyFlag)),
    InitSpec.ExecMode => ContainerInit.Run(exec: true),
    _ => await AgentMain.RunAsync(args),
};
