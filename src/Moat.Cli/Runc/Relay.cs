using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Protocols.Containerd;
using Moat.Protocols.Containerd.Task;
using Moat.Ttrpc;

namespace Moat.Cli.Runc;

/// <summary>
/// The host process that stands for a container process (init or exec): what --pid-file names,
/// what Docker's and containerd's runc shim wait for. It hands its stdio to the shim daemon,
/// creates (or execs) the process there, forwards the signals it gets, and exits with the
/// process's status once the process is gone and its output delivered.
/// </summary>
internal static class Relay
{
    public const string Verb = "__relay";
    public const string JobVariable = "MOAT_RELAY_JOB";

    /// <summary>The socketpair end through which the spawning verb hears "ready" and the outcome.</summary>
    public const int ControlFd = 3;

    public static async Task<int> RunAsync()
    {
        var job = JsonSerializer.Deserialize(Environment.GetEnvironmentVariable(JobVariable) ?? "null", CliJson.Default.RelayJob);
        Environment.SetEnvironmentVariable(JobVariable, null);
        if (job is null)
        {
            return 2;
        }
        Pipes.SetCloexec(ControlFd, true);
        var init = job.ExecId is null;
        var execId = job.ExecId ?? "";
        TaskClient? client = null;
        RelayStdio? stdio = null;
        try
        {
            if (init)
            {
                // Hooks (Docker's libnetwork-setkey) configure the network namespace of the pid we stand
                // for: our own, never the host's. The VM then takes over what they put there.
                if (job.NewNetworkNamespace)
                {
                    ErrnoException.Check(Libc.unshare(Libc.CLONE_NEWNET), "unshare(CLONE_NEWNET)");
                }
                ControlChannel.Send(ControlFd, "ready");
                // "go" with the socket of the daemon the spawning verb started, when the job names none.
                var go = await ControlChannel.ReceiveAsync(ControlFd, TimeSpan.FromMinutes(5));
                if (go?.StartsWith("go ", StringComparison.Ordinal) != true)
                {
                    return 1;
                }
                job = job with { ShimSocket = job.ShimSocket ?? (go.Length > 3 ? go[3..] : null) };
            }
            stdio = RelayStdio.Prepare(job);
            var socket = job.ShimSocket ?? throw new InvalidOperationException("the relay was given no shim socket");
            client = await TaskClient.ConnectAsync(socket, job.Namespace, CancellationToken.None);
            if (init)
            {
                var options = new Moat.Protocols.Shim.CreateOptions
                {
                    NetworkNamespace = job.NetworkNamespacePath ?? (job.NewNetworkNamespace && HasInterfaces() ? $"/proc/{Environment.ProcessId}/ns/net" : ""),
                    ConfigPath = job.ConfigPath ?? "",
                    StandInPid = Environment.ProcessId,
                };
                await client.CreateAsync(new CreateTaskRequest
                {
                    Id = job.Id,
                    Bundle = job.Bundle,
                    Stdin = stdio.Stdin,
                    Stdout = stdio.Stdout,
                    Stderr = stdio.Stderr,
                    Terminal = stdio.Terminal,
                    Options = Any.Pack(options),
                }, CancellationToken.None);
            }
            else
            {
                await client.ExecAsync(new ExecProcessRequest
                {
                    Id = job.Id,
                    ExecId = execId,
                    Stdin = stdio.Stdin,
                    Stdout = stdio.Stdout,
                    Stderr = stdio.Stderr,
                    Terminal = stdio.Terminal,
                    Spec = new Any { TypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Process", Value = ByteString.CopyFromUtf8(job.ProcessJson!) },
                }, CancellationToken.None);
                await client.StartAsync(job.Id, execId, CancellationToken.None);
                AtomicFile.Write(CliStore.ExecPidFile(job.Root, job.Id, execId), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            ControlChannel.Send(ControlFd, "ok " + socket);
        }
        catch (Exception e)
        {
            var message = e is TtrpcException t ? t.Message : e.Message;
            if (client is not null && init)
            {
                // Before the error is told: the spawning verb kills this relay as soon as it hears it,
                // and a daemon nobody told to go would stay.
                await Quietly(() => client.ShutdownAsync(job.Id, CancellationToken.None)); // the daemon exits if it serves nothing else
            }
            try
            {
                ControlChannel.Send(ControlFd, "error " + message);
            }
            catch (ErrnoException)
            {
            }
            stdio?.Dispose();
            return 1;
        }
        finally
        {
            Libc.close(ControlFd);
        }
        return await SuperviseAsync(job, client, stdio, execId);
    }

    private static async Task<int> SuperviseAsync(RelayJob job, TaskClient client, RelayStdio stdio, string execId)
    {
        var registrations = new List<IDisposable>
        {
            new ForwardedSignals([.. ForwardedSignals.Default, Signals.SIGUSR1, 12 /* SIGUSR2 */],
                sig => _ = Quietly(() => client.KillAsync(job.Id, execId, (uint)sig, false, CancellationToken.None))),
        };
        if (stdio.TtyFd is { } tty)
        {
            registrations.Add(new ForwardedSignals([Signals.SIGWINCH], sig =>
            {
                if (Pty.GetSize(tty) is { } size)
                {
                    _ = Quietly(() => client.ResizePtyAsync(job.Id, execId, size.Cols, size.Rows, CancellationToken.None));
                }
            }));
        }
        if (execId.Length > 0 && stdio.TtyFd is { } t && Pty.GetSize(t) is { } initial)
        {
            await Quietly(() => client.ResizePtyAsync(job.Id, execId, initial.Cols, initial.Rows, CancellationToken.None));
        }
        int status;
        try
        {
            status = (int)(await client.WaitAsync(job.Id, execId, CancellationToken.None)).ExitStatus;
        }
        catch (Exception e) when (e is TtrpcException or IOException or ObjectDisposedException)
        {
            status = 128 + Signals.SIGKILL; // the shim daemon (and the VM with it) is gone
        }
        foreach (var r in registrations)
        {
            r.Dispose();
        }
        if (execId.Length > 0)
        {
            await Quietly(() => client.DeleteAsync(job.Id, execId, CancellationToken.None));
            File.Delete(CliStore.ExecPidFile(job.Root, job.Id, execId));
        }
        await stdio.CompleteAsync();
        stdio.Dispose();
        await client.DisposeAsync();
        return status;
    }

    /// <summary>Whether our network namespace got an interface besides loopback (from the caller's hooks).</summary>
    private static bool HasInterfaces() =>
        File.ReadLines("/proc/self/net/dev").Skip(2).Select(l => l.Split(':')[0].Trim()).Any(n => n.Length > 0 && n != "lo");

    private static async Task Quietly(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (Exception e) when (e is TtrpcException or IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }
}
