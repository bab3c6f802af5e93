using Moat.Linux;
using Moat.Oci;
using Moat.Runtime;

namespace Moat.Cli.Runc;

/// <summary>What create, run and exec share: bundle checks, the relay, the hooks, the records.</summary>
internal static class Lifecycle
{
    /// <summary>Creates the container: its VM boots, its process waits for <c>start</c>.</summary>
    /// <param name="foreground">moat run without --detach: a terminal may be the caller's own.</param>
    public static async Task<CliRecord> CreateAsync(string root, string id, string bundleArg, string? pidFile, string? consoleSocket,
        bool foreground, string? configPath, CancellationToken ct)
    {
        ContainerId.Validate(id);
        var bundle = Path.GetFullPath(bundleArg);
        if (!Directory.Exists(bundle))
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"bundle {bundle} does not exist: pass --bundle with the directory that holds config.json");
        }
        var spec = SpecLoader.LoadBundle(bundle);
        // A CRI pod's app container under containerd's runc shim runs in its sandbox's VM, served
        // by that sandbox's shim daemon.
        var pod = PodMembership.Find(root, spec);
        SpecValidator.Validate(spec).ThrowIfInvalid(Path.Combine(bundle, SpecLoader.ConfigFileName));
        if (spec.Process is null)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{Path.Combine(bundle, SpecLoader.ConfigFileName)}: process: missing; a container needs a process to start");
        }
        var terminal = spec.Process.Terminal;
        if (terminal && consoleSocket is null && !foreground)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, "cannot allocate a tty when moat detaches without --console-socket: pass --console-socket or set process.terminal to false");
        }
        if (!terminal && consoleSocket is not null)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, "--console-socket was given but process.terminal is false in config.json: drop one of them");
        }
        CliStore.Reserve(root, id);
        CliRecord? launched = null;
        Task<string>? daemon = null;
        try
        {
            var netns = spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "network");
            var ns = CliStore.Namespace(root);
            var job = new RelayJob(Path.GetFullPath(root), id, bundle, ns, ShimSocket: pod?.ShimSocket, ExecId: null, ProcessJson: null, terminal, consoleSocket,
                ForegroundTty: terminal && consoleSocket is null, NewNetworkNamespace: netns is not null && string.IsNullOrEmpty(netns.Path),
                NetworkNamespacePath: string.IsNullOrEmpty(netns?.Path) ? null : netns.Path, configPath);
            // The hooks run once the create operation is done (runtime.md, lifecycle steps 3 and 4,
            // after step 2): the state they read says "created", with the container's pid.
            var state = new ContainerState { Id = id, Status = ContainerStatus.Created, Bundle = bundle, Annotations = spec.Annotations };
            // The container's own shim daemon starts while the relay does and the hooks run.
            daemon = pod is null ? Task.Run(() => ShimConnection.StartDaemonAsync(ns, id, bundle, Path.Combine(CliStore.Dir(root, id), "shim.log"), ct)) : null;
            var (pid, socket) = await RelayLauncher.LaunchAsync(job, daemon, async relayPid =>
            {
                state.Pid = relayPid;
                await HookRunner.RunAsync("prestart", spec.Hooks?.Prestart, state, ct).ConfigureAwait(false);
                await HookRunner.RunAsync("createRuntime", spec.Hooks?.CreateRuntime, state, ct).ConfigureAwait(false);
            }, ct).ConfigureAwait(false);
            var rootfs = Path.GetFullPath(Path.Combine(bundle, spec.Root?.Path ?? "rootfs"));
            var record = launched = new CliRecord(id, bundle, rootfs, DateTime.UtcNow, pid, socket, ns, (uint)Moat.Linux.Interop.Libc.geteuid(), spec.Annotations);
            CliStore.Write(root, record);
            if (pidFile is not null)
            {
                CliStore.WritePidFile(pidFile, pid);
            }
            return record;
        }
        catch
        {
            if (launched is not null)
            {
                // The relay, the shim daemon and the VM run: nothing would point at them once we fail.
                try
                {
                    await Commands.DeleteCommand.DeleteAsync(root, launched, force: true, CancellationToken.None).ConfigureAwait(false);
                }
                catch (RuntimeException e)
                {
                    ErrorReporter.Warn(e.Message);
                }
                Moat.Linux.Interop.Libc.kill(launched.Pid, Signals.SIGKILL);
                RelayLauncher.WaitChild(launched.Pid);
            }
            else if (daemon is not null)
            {
                // The relay is gone (the launcher kills it on failure) and told nobody else of the daemon.
                // The shim's start reuses the daemon of a group its annotations name: that one stays.
                var own = spec.Annotations is not { } a || !(a.ContainsKey(PodMembership.SandboxIdAnnotation) || a.ContainsKey(PodMembership.GroupAnnotation));
                await ShimConnection.StopStartedDaemonAsync(daemon, CliStore.Namespace(root), id, own).ConfigureAwait(false);
            }
            if (Directory.Exists(CliStore.Dir(root, id)))
            {
                Directory.Delete(CliStore.Dir(root, id), recursive: true);
            }
            throw;
        }
    }

    public static async Task StartAsync(string root, string id, CancellationToken ct)
    {
        var r = CliStore.Read(root, id);
        ContainerTransitions.Check(ContainerOperation.Start, await ShimConnection.StatusAsync(r, ct).ConfigureAwait(false), $"container {id}");
        await using (var client = await ShimConnection.ConnectAsync(r, ct).ConfigureAwait(false))
        {
            try
            {
                await client.StartAsync(id, "", ct).ConfigureAwait(false);
            }
            catch (Moat.Ttrpc.TtrpcException e)
            {
                // A workload that could not be exec'd leaves the container stopped: its relay (the
                // pid containerd's runc shim waits for) exits with the status, and it must be gone
                // before the error returns. The runc shim marks its task stopped only on that exit,
                // and Docker deletes the task right after the failed start, which it refuses while
                // the task is not stopped: a shim daemon and a VM would be left behind.
                if (await ShimConnection.StatusAsync(r, ct).ConfigureAwait(false) == ContainerStatus.Stopped)
                {
                    await RelayProcess.WaitGoneAsync(r.Pid, TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
                }
                throw ShimConnection.Translate(e, id);
            }
        }
        // The relay forwards its terminal's size on SIGWINCH: the size set before start now reaches the guest.
        Moat.Linux.Interop.Libc.kill(r.Pid, Signals.SIGWINCH);
        await WarnOnFailureAsync(() => HookRunner.RunAsync("poststart", SpecOf(r)?.Hooks?.Poststart, StateOf(r, ContainerStatus.Running), ct)).ConfigureAwait(false);
    }

    /// <summary>Forwards the signals a foreground moat gets to the relay, which passes them to the process.</summary>
    public static IDisposable ForwardSignalsTo(int pid) => new ForwardedSignals(ForwardedSignals.Default, sig => Moat.Linux.Interop.Libc.kill(pid, sig));

    /// <summary>Whether the spec has hooks the host runs (prestart, createRuntime, poststart, poststop).</summary>
    public static bool HasHostHooks(Spec spec) =>
        spec.Hooks is { } h && new[] { h.Prestart, h.CreateRuntime, h.Poststart, h.Poststop }.Any(l => l is { Count: > 0 });

    public static Spec? SpecOf(CliRecord r)
    {
        try
        {
            return SpecLoader.LoadBundle(r.Bundle);
        }
        catch (OciException)
        {
            return null;
        }
    }

    public static ContainerState StateOf(CliRecord r, ContainerStatus status) =>
        new() { Id = r.Id, Status = status, Pid = status == ContainerStatus.Stopped ? 0 : r.Pid, Bundle = r.Bundle, Annotations = r.Annotations };

    /// <summary>poststart and poststop hook failures are warnings (runtime.md "Lifecycle").</summary>
    public static async Task WarnOnFailureAsync(Func<Task> hooks)
    {
        try
        {
            await hooks().ConfigureAwait(false);
        }
        catch (RuntimeException e)
        {
            ErrorReporter.Warn(e.Message);
        }
    }
}
