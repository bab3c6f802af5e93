using Moat.Agent;

return args.FirstOrDefault() switch
{
    InitSpec.InitMode => ContainerInit.Run(exec: false),
    InitSpec.ExecMode => ContainerInit.Run(exec: true),
    _ => await AgentMain.RunAsync(args),
};
