namespace Moat.Node.Deploy;

/// <summary>What <c>moat check</c>, run on the node itself, concluded.</summary>
/// <param name="Problems">Its warnings and errors, one line each (why VMs cannot run, when they cannot).</param>
public sealed record NodeCheck(bool CanRunVms, string Verdict, IReadOnlyList<string> Problems);

/// <summary>
/// The installer's effects beyond the node's files: the host check, containerd's restart, the
/// node's label. <see cref="NodeHost"/> does them for real; tests record them.
/// </summary>
public interface INodeHost
{
    /// <summary>Runs the just-installed <c>moat check</c> on the node (chrooted into its root).</summary>
    Task<NodeCheck> CheckAsync(string moatHostPath, CancellationToken ct);

    Task RestartContainerdAsync(CancellationToken ct);

    /// <summary>Sets the node's <c>moat.io/runtime</c> label; null removes it.</summary>
    Task LabelAsync(string? value, CancellationToken ct);
}
