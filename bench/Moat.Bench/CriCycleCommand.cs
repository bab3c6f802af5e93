using Moat.Integration.Tests.Cri;

namespace Moat.Bench;

/// <summary>
/// cri-cycle: one soak cycle as kubelet drives a pod: RunPodSandbox, CreateContainer,
/// StartContainer, ExecSync, StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox.
/// The pod is named --name, so a soak that reuses names reuses the pod's identity (name,
/// namespace, uid), as a restarted StatefulSet pod does. Any failure removes what it made and exits 1.
/// </summary>
internal static class CriCycleCommand
{
    public static async Task<int> RunAsync(Args args)
    {
        using var cri = new Cri(args.Get("socket"));
        var name = args.Get("name");
        var handler = args.Get("handler", "moat");
        var (pod, _) = await cri.StartPodAsync(handler, name, "sleep", "3600");
        try
        {
            var containers = await cri.Runtime.ListContainersAsync(new ListContainersRequest { Filter = new ContainerFilter { PodSandboxId = pod } }, deadline: Deadline);
            var id = containers.Containers.Single().Id;
            var exec = await cri.Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = id, Cmd = { "sh", "-c", "echo cycle" }, Timeout = 60 }, deadline: Deadline);
            if (exec.ExitCode != 0 || exec.Stdout.ToStringUtf8() != "cycle\n")
            {
                throw new BenchException($"pod {name}: ExecSync gave status {exec.ExitCode} and {exec.Stdout.ToStringUtf8().Trim()}");
            }
            await cri.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = 10 }, deadline: Deadline);
            await cri.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id }, deadline: Deadline);
        }
        finally
        {
            await cri.RemovePodAsync(pod);
        }
        return 0;
    }

    private static DateTime Deadline => DateTime.UtcNow.AddMinutes(3);
}
