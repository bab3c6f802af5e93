namespace Moat.Shim;

/// <summary>
/// Where shims keep their sockets and their sandboxes' state: under the node directory
/// (<c>/run/moat-node</c>, root-only), never under the CLI's <c>--root</c>, whose names are
/// container ids.
/// </summary>
internal static class ShimPaths
{
    public const string ServeVerb = "__serve";

    /// <summary>The node's directories (MOAT_NODE_DIR overrides them), read once.</summary>
    private static readonly Moat.Runtime.RuntimeOptions Node = new Moat.Runtime.RuntimeOptions().WithEnvironmentOverrides();

    public static string NodeDir => Node.NodeDir;

    /// <summary>The shim daemons' sockets (0700).</summary>
    public static string SocketDir => Node.ShimSocketDir;

    /// <summary>Sandbox state for containers of a containerd namespace.</summary>
    public static string StateRoot(string ns) => Path.Combine(NodeDir, "containerd", ns);

    /// <summary>One socket per (namespace, group): containers of one pod share a shim.</summary>
    public static string Socket(string ns, string group) =>
        Path.Combine(SocketDir, Moat.Runtime.NameHash.Hex(ns + "/" + group, 24) + ".sock");

    /// <summary>Creates the socket directory, root-only.</summary>
    public static void CreateSocketDir()
    {
        const UnixFileMode rootOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(NodeDir);
        Directory.CreateDirectory(SocketDir, rootOnly);
        File.SetUnixFileMode(SocketDir, rootOnly);
    }
}
