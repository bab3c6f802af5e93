using System.CommandLine;
using Moat.Node.Deploy;
using Moat.Runtime;

namespace Moat.Cli.Commands;

/// <summary>
/// <c>moat deploy install|uninstall</c>: what the installer image's pod does on its node
/// (deploy/moat-deploy.yaml and deploy/moat-cleanup.yaml), see <see cref="NodeDeployer"/>.
/// </summary>
internal static class DeployCommand
{
    public static Command Create()
    {
        var hostRoot = new Option<string>("--host-root") { Description = "where the node's / is mounted", DefaultValueFactory = _ => "/host" };
        var artifacts = new Option<string?>("--artifacts") { Description = "the binaries (bin/) and guest image (guest/) to install (default: the directory above this moat's)" };
        var prefix = new Option<string>("--prefix") { Description = "where the binaries go on the node", DefaultValueFactory = _ => DeployLayout.DefaultPrefix };
        var restart = new Option<string>("--restart-command") { Description = "shell command that restarts containerd on the node, or 'none'", DefaultValueFactory = _ => NodeHost.SystemdRestart };
        var node = new Option<string?>("--node") { Description = "this node's name, for its moat.io/runtime label (default: $NODE_NAME)" };
        var kubeApi = new Option<string?>("--kube-api") { Description = "Kubernetes API URL (default: the in-cluster one, with the pod's service account)" };
        var wait = new Option<bool>("--wait") { Description = "then wait for SIGTERM (a DaemonSet's pod stays up, its log showing what happened)" };
        var install = new Command("install", "install Moat on this node, check it runs VMs, add the CRI handler, restart containerd, label the node");
        var uninstall = new Command("uninstall", "undo 'moat deploy install': label, CRI handler, binaries, guest image");
        foreach (var c in new[] { install, uninstall })
        {
            foreach (var o in new Option[] { hostRoot, artifacts, prefix, restart, node, kubeApi, wait })
            {
                c.Options.Add(o);
            }
            c.SetAction((r, ct) => ErrorReporter.Guard(async () =>
            {
                var status = await RunAsync(r, c == install, ct);
                if (r.GetValue(wait))
                {
                    await WaitForTermAsync(ct);
                }
                return status;
            }));
        }
        return new Command("deploy", "install or remove Moat on the node this runs on (the installer image's command)") { install, uninstall };

        async Task<int> RunAsync(ParseResult r, bool installing, CancellationToken ct)
        {
            var layout = new DeployLayout(r.GetValue(artifacts) ?? Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd('/'))!, r.GetValue(prefix)!);
            var nodeName = r.GetValue(node) ?? Environment.GetEnvironmentVariable("NODE_NAME");
            using var labels = nodeName is null ? null
                : r.GetValue(kubeApi) is { } api ? new KubeNodeLabels(new Uri(api.TrimEnd('/') + "/"), nodeName, token: null, ca: null)
                : KubeNodeLabels.InCluster(nodeName);
            var restartCommand = r.GetValue(restart) is "none" ? null : r.GetValue(restart);
            using var root = new HostRoot(r.GetValue(hostRoot)!);
            var deployer = new NodeDeployer(root, layout, new NodeHost(root.Path, restartCommand, labels, Console.WriteLine), Console.WriteLine);
            if (!installing)
            {
                await deployer.UninstallAsync(ct);
                return 0;
            }
            return await deployer.InstallAsync(ct) == DeployOutcome.Installed ? 0 : 1;
        }
    }

    private static async Task WaitForTermAsync(CancellationToken ct)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
