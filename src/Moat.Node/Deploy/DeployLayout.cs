namespace Moat.Node.Deploy;

/// <summary>
/// Where things go. In the installer image: <c>ARTIFACTS/bin/</c> (moat, moat-agent, moat-vmm, the shim)
/// and <c>ARTIFACTS/guest/NAME/</c> (a built guest image). On the node: the binaries in
/// <c>PREFIX/bin</c>, linked from <c>/usr/local/bin</c> (on containerd's PATH), the guest image
/// under <c>/var/lib/moat/guest</c>, the CRI handler in containerd's config.toml.
/// </summary>
public sealed record DeployLayout(string Artifacts, string Prefix = DeployLayout.DefaultPrefix,
    string ContainerdConfig = "/etc/containerd/config.toml", string DataDir = "/var/lib/moat", string LinkDir = "/usr/local/bin")
{
    public const string DefaultPrefix = "/opt/moat";
    public const string LabelKey = "moat.io/runtime";
    public const string Ready = "ready";
    public const string Unavailable = "unavailable";

    /// <summary>The binaries the node gets; the ones containerd and users call are linked into <see cref="LinkDir"/>.</summary>
    public static readonly IReadOnlyList<string> Binaries = ["moat", "moat-agent", "moat-vmm", "containerd-shim-moat-v2"];
    public static readonly IReadOnlyList<string> Linked = ["moat", "containerd-shim-moat-v2"];

    public string HostBin => Path.Combine(Prefix, "bin");

    /// <summary>An absolute prefix below / (it gets a bin directory of Moat's binaries).</summary>
    public void Validate()
    {
        if (!Path.IsPathFullyQualified(Prefix) || Path.GetFullPath(Prefix) == "/")
        {
            throw new Moat.Runtime.RuntimeException(Moat.Runtime.RuntimeErrorKind.InvalidArgument,
                $"--prefix {Prefix}: expected an absolute directory below /, such as {DefaultPrefix}");
        }
    }
    public string HostMoat => Path.Combine(HostBin, "moat");
    public string GuestRoot => Path.Combine(DataDir, "guest");
}
