namespace Moat.Runtime.Metrics;

/// <summary>One sandbox as <c>moat monitor</c> shows it (<see cref="Sandbox.ReportAsync"/>).</summary>
/// <param name="VmmPid">QEMU's pid on the host (its memory is read by the monitor).</param>
/// <param name="Accelerator">"kvm" or "tcg".</param>
/// <param name="Restored">The VM was restored from a template rather than booted.</param>
/// <param name="StartSeconds">How long the sandbox took to start, up to the guest being set up.</param>
/// <param name="MemoryBytes">The VM's memory now, hotplugged memory included.</param>
/// <param name="Guest">The guest's own figures; null when its agent did not answer (<paramref name="GuestError"/> says why).</param>
public sealed record SandboxReport(
    string Id,
    int VmmPid,
    string Accelerator,
    bool Restored,
    double StartSeconds,
    int Vcpus,
    long MemoryBytes,
    long HotpluggedMemoryBytes,
    int Containers,
    GuestUsage? Guest,
    string? GuestError,
    IReadOnlyList<RpcMethodReport> Rpcs)
{
    /// <summary>The pod this sandbox runs, from the CRI annotations (empty outside Kubernetes).</summary>
    public PodIdentity Pod { get; init; } = PodIdentity.None;
}

/// <summary>A pod's name, namespace and uid, as kubelet gave them through containerd's CRI annotations.</summary>
public sealed record PodIdentity(string Name, string Namespace, string Uid)
{
    public static readonly PodIdentity None = new("", "", "");

    public static PodIdentity Of(IReadOnlyDictionary<string, string>? annotations) => annotations is null
        ? None
        : new(annotations.GetValueOrDefault("io.kubernetes.cri.sandbox-name", ""),
              annotations.GetValueOrDefault("io.kubernetes.cri.sandbox-namespace", ""),
              annotations.GetValueOrDefault("io.kubernetes.cri.sandbox-uid", ""));
}
