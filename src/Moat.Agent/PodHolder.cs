using System.Runtime.InteropServices;
using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Oci;

namespace Moat.Agent;

/// <summary>
/// A pod's sandbox container (CRI's pause) held without its program. On a host the pause process
/// exists to keep the pod's namespaces alive; in the VM the pod's helper is born in them already,
/// so it keeps them itself: no rootfs to set up, no program to load through the share. That was a
/// whole container create in the guest on every pod start (~0.45 s under TCG, measured). What the
/// pod's containers see is pause's part: the pod's hostname and namespaced sysctls in the UTS and
/// IPC namespaces they join, and, in a pod sharing its PID namespace, a PID 1 that reaps orphans
/// and exits 0 on SIGTERM or SIGINT, named "pause". Its main thread takes the spec's user,
/// capabilities and seccomp filter (the runtime's own threads keep the helper's); it runs nothing
/// of the pod's, and it is not dumpable.
/// </summary>
internal static unsafe class PodHolder
{
    /// <summary>Whether a container is held rather than run: a pod's sandbox container without a terminal.</summary>
    public static bool Holds(Spec spec) => IsPodSandbox(spec) && spec.Process?.Terminal != true;

    /// <summary>A CRI pod's sandbox (pause) container, by its annotation.</summary>
    public static bool IsPodSandbox(Spec spec) =>
        spec.Annotations?.GetValueOrDefault(AgentService.CriContainerTypeAnnotation) == "sandbox";

    /// <summary>The pod-wide settings pause's container carries (before "ready", as the set-up of a run container).</summary>
    public static void Prepare(Spec spec)
    {
        // This helper's /proc is the guest's: a sysctl written here applies to the namespaces this
        // process is in, the IPC namespace the pod's containers join and the guest's network.
        RootfsSetup.WriteSysctls(spec);
        RootfsSetup.SetNames(spec);
    }

    /// <summary>After the process's credentials are applied: waits, as pause does, until a signal ends it. Never returns.</summary>
    public static void Hold()
    {
        var name = "pause\0"u8;
        fixed (byte* n = name)
        {
            Libc.prctl(Libc.PR_SET_NAME, (nuint)n, 0, 0, 0);
        }
        // Not dumpable: a process of a container sharing this PID namespace cannot open
        // /proc/1/root (the guest's root, where pause would have its image) without CAP_SYS_PTRACE.
        ErrnoException.Check(Libc.prctl(Libc.PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)");
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => Environment.Exit(0));
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => Environment.Exit(0));
        using var child = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ => ReapAll());
        ReapAll();
        Thread.Sleep(Timeout.Infinite);
    }

    /// <summary>As the PID namespace's init: every exited orphan reparented here.</summary>
    private static void ReapAll()
    {
        int status;
        while (Libc.waitpid(-1, &status, Libc.WNOHANG) > 0)
        {
        }
    }
}
