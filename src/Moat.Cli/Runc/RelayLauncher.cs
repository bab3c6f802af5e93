using System.Text.Json;
using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Runtime;

namespace Moat.Cli.Runc;

/// <summary>Spawns a relay (see <see cref="Relay"/>) and waits until its process exists in the VM.</summary>
internal static class RelayLauncher
{
    /// <param name="daemon">The shim daemon being started for the container (its socket), or null when the job names one.</param>
    /// <param name="beforeGo">Run once the relay's pid exists and before the VM is touched (the create hooks).</param>
    public static async Task<(int Pid, string Socket)> LaunchAsync(RelayJob job, Task<string>? daemon, Func<int, Task>? beforeGo, CancellationToken ct)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot locate the moat executable");
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => $"{e.Key}={e.Value}").Where(e => !e.StartsWith(Relay.JobVariable + "=", StringComparison.Ordinal))
            .Append($"{Relay.JobVariable}={JsonSerializer.Serialize(job, CliJson.Default.RelayJob)}").ToList();
        var (ours, theirs) = FdPassing.SocketPair();
        using var _ = ours;
        var fds = new Dictionary<int, int> { [Relay.ControlFd] = theirs.Fd };
        using var devnull = new SafeFd(ErrnoException.Check(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null"));
        for (var fd = 0; fd <= 2; fd++)
        {
            // With a console socket the container's stdio is the pty: the caller's descriptors (which
            // it may be reading to EOF, as go-runc does) are not kept open by the relay.
            var keep = job.ConsoleSocket is null && Libc.fcntl(fd, Libc.F_GETFD, 0) >= 0;
            fds[fd] = keep ? fd : devnull.Fd;
        }
        int pid;
        try
        {
            pid = Spawner.Spawn(new SpawnRequest(self, [self, Relay.Verb], env)
            {
                Fds = fds,
                // In the caller's process group only when it needs the caller's terminal (and its SIGWINCH).
                NewSession = !(job.Terminal && job.ConsoleSocket is null),
            });
        }
        finally
        {
            theirs.Dispose();
        }
        try
        {
            if (job.ExecId is null)
            {
                if (await ControlChannel.ReceiveAsync(ours.Fd, TimeSpan.FromSeconds(30)).ConfigureAwait(false) != "ready")
                {
                    throw new RuntimeException(RuntimeErrorKind.Internal, $"container {job.Id}: the relay process {pid} exited before it was ready");
                }
                if (beforeGo is not null)
                {
                    await beforeGo(pid).ConfigureAwait(false);
                }
                ControlChannel.Send(ours.Fd, "go " + (daemon is null ? "" : await daemon.ConfigureAwait(false)));
            }
            var outcome = await ControlChannel.ReceiveAsync(ours.Fd, TimeSpan.FromMinutes(5)).ConfigureAwait(false);
            if (outcome?.StartsWith("ok ", StringComparison.Ordinal) == true)
            {
                return (pid, outcome[3..]);
            }
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, outcome?.StartsWith("error ", StringComparison.Ordinal) == true
                ? outcome[6..]
                : $"container {job.Id}: the relay process {pid} exited without creating the process");
        }
        catch
        {
            Libc.kill(pid, Signals.SIGKILL);
            WaitChild(pid);
            throw;
        }
    }

    /// <summary>Waits for a child and returns its status as a shell would (128 + n for signal n).</summary>
    public static unsafe int WaitChild(int pid)
    {
        int status;
        while (Libc.waitpid(pid, &status, 0) < 0)
        {
            if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != Libc.EINTR)
            {
                return 255;
            }
        }
        return ExitStatus.Decode(status);
    }
}
