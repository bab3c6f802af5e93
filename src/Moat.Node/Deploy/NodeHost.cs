using System.Diagnostics;
using System.Text.Json;
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
        try
        {
            using var report = JsonDocument.Parse(stdout);
            var root = report.RootElement;
            var problems = root.GetProperty("items").EnumerateArray()
                .Where(i => i.GetProperty("level").GetString() is "warning" or "error")
                .Select(i => $"{i.GetProperty("level").GetString()}: {i.GetProperty("name").GetString()}: {i.GetProperty("detail").GetString()}")
                .ToList();
            return new NodeCheck(root.GetProperty("can_create_vms").GetBoolean(), root.GetProperty("verdict").GetString() ?? "", problems);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return new NodeCheck(false, $"moat check could not run on the node (exit {status}): {OneLine(stderr.Length > 0 ? stderr : stdout)}", []);
        }
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
                $"restarting containerd ({restartCommand}) failed with exit {status}: {OneLine(stderr + stdout)}: restart it by hand, or set --restart-command");
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

    private static string OneLine(string text) => text.Trim().ReplaceLineEndings(" ") is var t && t.Length > 400 ? t[..400] : t;

    private static async Task<(int Status, string Stdout, string Stderr)> RunAsync(string file, IReadOnlyList<string> args, TimeSpan deadline, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi) ?? throw new RuntimeException(RuntimeErrorKind.MissingDependency, $"cannot start {file}");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(deadline);
        try
        {
            await p.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new RuntimeException(RuntimeErrorKind.Timeout, $"{file} {string.Join(' ', args)} did not finish within {deadline.TotalSeconds:0} s");
        }
        return (p.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
