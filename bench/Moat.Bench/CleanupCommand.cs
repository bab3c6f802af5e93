namespace Moat.Bench;

/// <summary>cleanup: stops and removes every pod the CRI plugin still has (after an interrupted run).</summary>
internal static class CleanupCommand
{
    public static async Task<int> RunAsync(Args args)
    {
        using var cri = new Cri(args.Get("socket"));
        var pods = await cri.Runtime.ListPodSandboxAsync(new Moat.Integration.Tests.Cri.ListPodSandboxRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
        foreach (var pod in pods.Items)
        {
            try
            {
                await cri.RemovePodAsync(pod.Id);
            }
            catch (Grpc.Core.RpcException e)
            {
                Console.Error.WriteLine($"  cleanup: pod {pod.Metadata.Name}: {e.Status.Detail}");
            }
        }

        return 0;
    }
}
