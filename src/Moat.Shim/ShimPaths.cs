namespace Moat.Shim;

internal static class ShimPaths
{
    public const string ServeVerb = "__serve";
    public const string SocketDir = "/run/moat/s";

    /// <summary>Sandbox state for containers of a containerd namespace.</summary>
    public static string StateRoot(string ns) => Path.Combine("/run/moat/containerd", ns);

    /// <summary>One socket per (namespace, group): containers of one pod share a shim.</summary>
    public static string Socket(string ns, string group) =>
        Path.Combine(SocketDir, Moat.Runtime.NameHash.Hex(ns + "/" + group, 24) + ".sock");
}
