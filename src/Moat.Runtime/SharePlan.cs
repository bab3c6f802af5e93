using Moat.Oci;
using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>
/// How a container's rootfs and bind mounts reach the guest: each host path is bound under the
/// sandbox's shared directory (exported over virtio-9p as <see cref="Tag"/>) and the spec is
/// rewritten to the guest paths where the agent finds them.
/// </summary>
public static class SharePlan
{
    public const string Tag = "moatshare";
    public const string GuestMountPoint = "/run/moat/shared";

    public static (Spec GuestSpec, IReadOnlyList<ShareBind> Binds) ForContainer(string containerId, string bundleDir, Spec spec)
    {
        var binds = new List<ShareBind>();
        var root = spec.Root ?? throw new RuntimeException(RuntimeErrorKind.InvalidArgument, "config.json: root: missing");
        var rootfs = Path.IsPathRooted(root.Path) ? root.Path : Path.GetFullPath(Path.Combine(bundleDir, root.Path));
        if (!Directory.Exists(rootfs))
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument,
                $"rootfs {rootfs} does not exist: check root.path in {Path.Combine(bundleDir, "config.json")}");
        }
        // Shared writable even for root.readonly, as runc mounts it: mountpoints for the spec's
        // mounts may have to be created first; the agent makes the root read-only afterwards.
        binds.Add(new ShareBind(rootfs, $"{containerId}/rootfs", ReadOnly: false));

        // Serialize and re-read to get a private copy to rewrite.
        var copy = SpecLoader.Deserialize(System.Text.Json.JsonSerializer.Serialize(spec, OciJsonContext.Default.Spec));
        copy.Root!.Path = $"{GuestMountPoint}/{containerId}/rootfs";
        var i = 0;
        foreach (var m in copy.Mounts ?? [])
        {
            var isBind = m.Type == "bind" || (m.Options?.Any(o => o is "bind" or "rbind") ?? false);
            if (!isBind)
            {
                continue;
            }
            var source = m.Source ?? throw new RuntimeException(RuntimeErrorKind.InvalidArgument,
                $"config.json: mounts: bind mount on {m.Destination} has no source");
            if (!Path.IsPathRooted(source))
            {
                source = Path.GetFullPath(Path.Combine(bundleDir, source));
            }
            if (!File.Exists(source) && !Directory.Exists(source))
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument,
                    $"config.json: mounts: source {source} of the bind mount on {m.Destination} does not exist");
            }
            if (m.Options?.FirstOrDefault(o => o is "shared" or "rshared") is { } propagation)
            {
                // Kubernetes' mountPropagation: Bidirectional, Docker's :shared. Host and guest are two kernels.
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument,
                    $"config.json: mounts: the bind mount on {m.Destination} asks for {propagation} propagation with the host, which a VM cannot give (its mounts never reach the host): use rslave or private propagation, or run this container with runc");
            }
            var target = $"{containerId}/mounts/{i++}";
            var ro = m.Options?.Contains("ro") ?? false;
            binds.Add(new ShareBind(source, target, ro));
            m.Source = $"{GuestMountPoint}/{target}";
        }
        return (copy, binds);
    }
}
