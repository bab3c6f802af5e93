using System.Text.Json;
using Moat.ImageBuilder;
using Moat.Runtime;

namespace Moat.Node.Deploy;

/// <summary>
/// The installer's effects on a real node: <c>moat check</c> run chrooted into the node's root
/// (so it sees the node's QEMU, kernel modules and /dev/kvm), containerd restarted by a shell
/// command (by default systemd's, reached by entering PID 1's namespaces: the pod runs with
/// hostPID), and the node labelled through the Kubernetes API when there is one.
/// </summary>
public sealed class NodeHost(string hostRoot, string? restartCommand, KubeNodeLabels? labels, Action<string> log) : INodeHost
{
    /// <summary>systemd's restart of containerd, from the host's own mount namespace and binaries.</summary>
    public const string SystemdRestart = "nsenter -t 1 -m -u -i -n -p -- systemctl restart containerd";

    private static readonly TimeSpan CheckDeadline = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan RestartDeadline = TimeSpan.FromMinutes(2);

    public async Task<NodeCheck> CheckAsync(string moatHostPath, CancellationToken ct)
    {
        var (status, stdout, stderr) = await RunAsync("chroot", [hostRoot, moatHostPath, "check", "--json"], CheckDeadline, ct).ConfigureAwait(false);
        CheckReport? report = null;
        try
        {
            report = JsonSerializer.Deserialize(stdout, CheckJson.Default.CheckReport);
        }
        catch (JsonException)
        {
        }
        return report is null
            ? new NodeCheck(false, $"moat check could not run on the node (exit {status}): {GuestText.OneLine(stderr.Length > 0 ? stderr : stdout, 400)}", [])
            : new NodeCheck(report.CanCreateVms, report.Verdict,
                report.Items.Where(i => i.Level is "warning" or "error").Select(i => $"{i.Level}: {i.Name}: {i.Detail}").ToList());
    }

    public async Task RestartContainerdAsync(CancellationToken ct)
    {
        if (restartCommand is null)
        {
            log("containerd's configuration changed: restart containerd to use it");
            return;
        }
        var (status, stdout, stderr) = await RunAsync("/bin/sh", ["-c", restartCommand], RestartDeadline, ct).ConfigureAwait(false);
        if (status != 0)
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"restarting containerd ({restartCommand}) failed with exit {status}: {GuestText.OneLine(stderr + stdout, 400)}: restart it by hand, or set --restart-command");
        }
    }

    public async Task LabelAsync(string? value, CancellationToken ct)
    {
        if (labels is null)
        {
            log($"no Kubernetes API here: node label {DeployLayout.LabelKey} left as it is");
            return;
        }
        await labels.SetAsync(DeployLayout.LabelKey, value, ct).ConfigureAwait(false);
    }

    private static async Task<(int, string, string)> RunAsync(string file, IReadOnlyList<string> args, TimeSpan deadline, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(deadline);
        try
        {
            return await HostCommand.RunAsync(file, args, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new RuntimeException(RuntimeErrorKind.Timeout, $"{file} {string.Join(' ', args)} did not finish within {deadline.TotalSeconds:0} s");
        }
    }
}
