using System.Text;
using System.Text.Json;
using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Oci;
using Moat.Runtime;

namespace Moat.Cli.Runc;

/// <summary>
/// Runs OCI hooks on the host (runtime.md "Lifecycle"), each given the state on stdin. argv[0] is
/// the hook's own args[0]: dockerd's libnetwork-setkey hook is /proc/PID/exe dispatching on it.
/// </summary>
internal static class HookRunner
{
    public static async Task RunAsync(string stage, IReadOnlyList<Hook>? hooks, ContainerState state, CancellationToken ct)
    {
        if (hooks is null)
        {
            return;
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(state, OciJsonContext.Default.ContainerState);
        for (var i = 0; i < hooks.Count; i++)
        {
            var h = hooks[i];
            var what = $"{stage} hook #{i} ({h.Path})";
            var (stdinRead, stdinWrite) = Pipes.Create();
            var (errRead, errWrite) = Pipes.Create();
            using var devnull = new SafeFd(ErrnoException.Check(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null"));
            int pid;
            try
            {
                var argv = h.Args is { Count: > 0 } a ? a : [h.Path];
                pid = Spawner.Spawn(new SpawnRequest(h.Path, argv, h.Env ?? [])
                {
                    Fds = new Dictionary<int, int> { [0] = stdinRead.Fd, [1] = devnull.Fd, [2] = errWrite.Fd },
                });
            }
            catch (ErrnoException e)
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{what} cannot run: {e.Message}");
            }
            finally
            {
                stdinRead.Dispose();
                errWrite.Dispose();
            }
            using (stdinWrite)
            {
                try
                {
                    Pipes.WriteAll(stdinWrite.Fd, json);
                }
                catch (ErrnoException)
                {
                    // the hook does not read its stdin
                }
            }
            var stderr = Task.Run(() =>
            {
                using (errRead)
                {
                    var buffer = new byte[4096];
                    var text = new StringBuilder();
                    int n;
                    while ((n = Pipes.Read(errRead.Fd, buffer)) > 0 && text.Length < 4096)
                    {
                        text.Append(Encoding.UTF8.GetString(buffer, 0, n));
                    }
                    return text.ToString();
                }
            }, CancellationToken.None);
            var deadline = h.Timeout is { } secs ? DateTime.UtcNow.AddSeconds(secs) : DateTime.MaxValue;
            int? status;
            while ((status = TryReap(pid)) is null)
            {
                if (DateTime.UtcNow > deadline || ct.IsCancellationRequested)
                {
                    Libc.kill(pid, Signals.SIGKILL);
                    RelayLauncher.WaitChild(pid);
                    throw new RuntimeException(RuntimeErrorKind.Timeout, $"{what} timed out after {h.Timeout} s");
                }
                await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
            }
            if (status != 0)
            {
                var err = (await stderr.ConfigureAwait(false)).Trim().ReplaceLineEndings(" ");
                throw new RuntimeException(RuntimeErrorKind.FailedPrecondition, $"{what} failed with exit status {status}{(err.Length > 0 ? ": " + err : "")}");
            }
        }
    }

    private static unsafe int? TryReap(int pid)
    {
        int status;
        var r = Libc.waitpid(pid, &status, Libc.WNOHANG);
        return r == pid ? ExitStatus.Decode(status) : r < 0 ? 255 : null;
    }
}
