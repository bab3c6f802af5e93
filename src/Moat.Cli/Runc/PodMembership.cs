using Moat.Oci;
using Moat.Runtime;

namespace Moat.Cli.Runc;

/// <summary>
/// A CRI pod's app container created through containerd's runc shim with moat as its binary
/// (Kata 1.x's katacli set-up): its CRI annotations name the pod's sandbox (pause) container,
/// whose VM it must run in, and its spec joins that container's namespaces by the path
/// /proc/PID/ns/TYPE of the pid moat reported for it (its relay).
/// </summary>
internal static class PodMembership
{
    public const string ContainerTypeAnnotation = "io.kubernetes.cri.container-type";
    public const string SandboxIdAnnotation = "io.kubernetes.cri.sandbox-id";

    /// <summary>runc's shim's group of containers sharing one shim, as the shim's <c>start</c> reads it too.</summary>
    public const string GroupAnnotation = "io.containerd.runc.v2.group";

    /// <summary>
    /// The record of the pod's sandbox container when <paramref name="spec"/> is a CRI app
    /// container whose sandbox moat runs under the same root, else null. The spec's paths to the
    /// sandbox's PID, IPC and UTS namespaces are dropped here (the shim, given the same bundle,
    /// maps them to the sandbox container's namespaces in the VM), so they pass the checks a
    /// host namespace path would fail.
    /// </summary>
    public static CliRecord? Find(string root, Spec spec)
    {
        var annotations = spec.Annotations;
        if (annotations?.GetValueOrDefault(ContainerTypeAnnotation) != "container"
            || annotations.GetValueOrDefault(SandboxIdAnnotation) is not { } sandboxId
            || !ContainerId.IsValid(sandboxId))
        {
            return null;
        }
        CliRecord sandbox;
        try
        {
            sandbox = CliStore.Read(root, sandboxId);
        }
        catch (RuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound)
        {
            return null; // not one of moat's: its namespace paths are refused as the host's
        }
        if (!File.Exists(sandbox.ShimSocket))
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"the pod's sandbox container {sandboxId} has no running VM (its shim daemon is gone): recreate the pod");
        }
        foreach (var ns in spec.Linux?.Namespaces ?? [])
        {
            if (ns.Type is "pid" or "ipc" or "uts" && ns.Path == $"/proc/{sandbox.Pid}/ns/{ns.Type}")
            {
                ns.Path = null;
            }
        }
        return sandbox;
    }
}
