using Moat.Oci;

namespace Moat.Runtime.Core;

/// <summary>What a front door asks a create for.</summary>
/// <param name="Spec">The bundle's config.json as loaded (the core maps, checks and rewrites it).</param>
/// <param name="SandboxOptions">The runtime options for a VM, read only when this container boots one.</param>
/// <param name="NetworkNamespace">The network namespace the VM becomes the endpoint of (a pod's, set up by CNI); null for none.</param>
/// <param name="MountRootfs">Prepares the rootfs in the bundle (containerd's mounts); true when there is something to undo.</param>
/// <param name="UnmountRootfs">Undoes <paramref name="MountRootfs"/>.</param>
/// <param name="StandInPid">The host process that stands for the container's process (Moat's CLI relay, the pid runc callers see); 0 for none.</param>
public sealed record CreateRequest(
    string Id,
    string Bundle,
    Spec Spec,
    ProcessIo Io,
    Func<RuntimeOptions> SandboxOptions,
    string? NetworkNamespace,
    Func<bool>? MountRootfs = null,
    Action? UnmountRootfs = null,
    int StandInPid = 0);

public sealed partial class ContainerCore
{
    /// <summary>The CRI annotation that tells a pod's sandbox (pause) container from its members.</summary>
    public const string CriContainerTypeAnnotation = "io.kubernetes.cri.container-type";

    /// <summary>
    /// Creates a container: in the running VM of its pod (grown for its limits, its files shared
    /// in), or in a VM booted for it. Its process waits for <see cref="StartAsync"/>; one killed
    /// before that still exits (reported through <see cref="ICoreEvents.Exited"/>).
    /// </summary>
    public async Task<CoreContainer> CreateAsync(CreateRequest r, CancellationToken ct)
    {
        // The duplicate check, the rootfs mount and the sandbox's bookkeeping are one step, so a
        // losing duplicate never touches the winner's mounts.
        await _sandboxLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await CreateLockedAsync(r, ct).ConfigureAwait(false);
        }
        finally
        {
            _sandboxLock.Release();
        }
    }

    private async Task<CoreContainer> CreateLockedAsync(CreateRequest r, CancellationToken ct)
    {
        if (_containers.ContainsKey(r.Id))
        {
            throw new RuntimeException(RuntimeErrorKind.AlreadyExists, $"task {r.Id} already exists");
        }
        var spec = r.Spec;
        var joins = MapPodNamespaces(spec);
        var validation = SpecValidator.Validate(spec);
        validation.ThrowIfInvalid(Path.Combine(r.Bundle, SpecLoader.ConfigFileName));
        foreach (var w in validation.Warnings)
        {
            settings.Phases.Phase($"warning: {w}");
        }
        var isPodSandbox = spec.Annotations?.GetValueOrDefault(CriContainerTypeAnnotation) == "sandbox";
        if (isPodSandbox)
        {
            RefuseHostNamespaces(r.Id, spec);
        }
        var mounted = r.MountRootfs?.Invoke() ?? false;
        Sandbox? booted = null, joined = null;
        try
        {
            var (guestSpec, binds) = SharePlan.ForContainer(r.Id, r.Bundle, spec);
            var limits = ContainerLimits.Of(spec);
            Sandbox sandbox;
            if (_sandbox is { } running && !running.VmExit.IsCompleted)
            {
                // A further container of the pod: grow the VM for its limits, share its files.
                sandbox = joined = running;
                await sandbox.ResizeForAsync(r.Id, limits, ct).ConfigureAwait(false);
                sandbox.ShareContainer(r.Id, binds);
            }
            else
            {
                var options = r.SandboxOptions();
                StateDir.SweepStale(options.StateRoot, options.NodeDir);
                sandbox = booted = await Sandbox.StartAsync(r.Id, options, binds, settings.Phases, ct,
                    first: limits, networkNamespace: r.NetworkNamespace, growsCpus: isPodSandbox, vms: settings.Vms,
                    host: new HostPlacement(spec.Linux?.CgroupsPath, spec.Linux?.Resources, r.StandInPid, spec.Process?.OomScoreAdj),
                    forwardsPorts: isPodSandbox).ConfigureAwait(false);
                _ = ForwardOomKillsAsync(sandbox);
            }
            await sandbox.CreateContainerAsync(r.Id, guestSpec, stdin: !string.IsNullOrEmpty(r.Io.Stdin), ct, r.Bundle, joins).ConfigureAwait(false);
            var init = new CoreProcess { ContainerId = r.Id, ExecId = "", Io = r.Io, Pid = (uint)sandbox.VmmPid };
            init.GuestExit = sandbox.WaitAsync(r.Id, "", CancellationToken.None);
            var container = new CoreContainer
            {
                Id = r.Id,
                Bundle = r.Bundle,
                Sandbox = sandbox,
                Init = init,
                IsPodSandbox = isPodSandbox,
                StandInPid = r.StandInPid,
                Pod = Metrics.PodIdentity.Of(spec.Annotations),
                Cleanup = mounted ? r.UnmountRootfs : null,
            };
            _containers[r.Id] = container;
            _sandbox = sandbox;
            _ = ExitIfNeverStartedAsync(container, init);
            return container;
        }
        catch
        {
            if (booted is not null)
            {
                await booted.TearDownAsync(keepLog: true).ConfigureAwait(false);
            }
            else if (joined is not null)
            {
                await joined.RemoveContainerAsync(r.Id, CancellationToken.None).ConfigureAwait(false);
            }
            if (mounted)
            {
                r.UnmountRootfs?.Invoke();
            }
            throw;
        }
    }

    /// <summary>A pod asking for the host's network or IPC namespace: a VM has its own kernel and can share neither.</summary>
    private static void RefuseHostNamespaces(string id, Spec spec)
    {
        if (!(spec.Linux?.Namespaces?.Any(n => n.Type == "network") ?? false))
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument,
                $"pod {id} asks for the host network, which a VM cannot isolate: run hostNetwork pods with runc (no runtimeClassName), or drop hostNetwork");
        }
        if (!(spec.Linux?.Namespaces?.Any(n => n.Type == "ipc") ?? false))
        {
            // Without an ipc namespace in the spec the pod asks for the host's.
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument,
                $"pod {id} asks for the host IPC namespace (hostIPC), which a VM cannot share: run hostIPC pods with runc (no runtimeClassName), or drop hostIPC");
        }
    }

    /// <summary>
    /// A pod member names its sandbox's namespaces by host path (/proc/PID/ns/TYPE, PID being what
    /// the front door reported as the sandbox's pid: the VM's through the shim, the relay's through
    /// the CLI under containerd's runc shim). Inside the VM that means the sandbox container's
    /// namespaces: the path is dropped and the agent is told to join them.
    /// </summary>
    private List<NamespaceJoin> MapPodNamespaces(Spec spec)
    {
        var joins = new List<NamespaceJoin>();
        if (_sandbox is not { } sandbox || spec.Linux?.Namespaces is not { } namespaces)
        {
            return joins;
        }
        var pause = _containers.Values.FirstOrDefault(c => c.Sandbox == sandbox && c.IsPodSandbox);
        var podContainer = pause?.Id ?? sandbox.Id;
        int[] podPids = pause is { StandInPid: > 0 } ? [sandbox.VmmPid, pause.StandInPid] : [sandbox.VmmPid];
        foreach (var ns in namespaces)
        {
            if (ns.Type is "pid" or "ipc" or "uts" && podPids.Any(pid => ns.Path == $"/proc/{pid}/ns/{ns.Type}"))
            {
                ns.Path = null;
                joins.Add(new NamespaceJoin(ns.Type, podContainer));
            }
        }
        return joins;
    }

    /// <summary>Reports the OOM kills the sandbox's agent names, when they are of this core's containers (<see cref="OomForwarder"/>).</summary>
    private Task ForwardOomKillsAsync(Sandbox sandbox) =>
        new OomForwarder(
            sandbox.Guest.NextOomKillAsync,
            id => _containers.TryGetValue(id, out var c) && c.Sandbox == sandbox,
            settings.Events.OomKilled,
            line => settings.Log($"sandbox {sandbox.Id}: {line}"),
            sandbox.VmExit).RunAsync();

    /// <summary>An init killed before start still exits, as containerd expects (an exit, then delete).</summary>
    private async Task ExitIfNeverStartedAsync(CoreContainer c, CoreProcess p)
    {
        var end = await EndOfAsync(p).ConfigureAwait(false);
        lock (p)
        {
            if (p.Started)
            {
                return; // the start's supervision reports it, after the output
            }
            p.Started = true;
        }
        p.SetExited(end);
        settings.Events.Exited(c, p);
    }
}
