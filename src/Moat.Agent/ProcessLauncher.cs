using System.Text;
using System.Text.Json;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Agent;

/// <summary>
/// Starts the container-init helper on a fresh thread that first enters the namespaces the
/// helper must be born in (a new PID namespace for init, the container's for exec), since
/// posix_spawn's child inherits the calling thread's namespaces.
/// </summary>
internal sealed class ProcessLauncher
{
    private readonly Reaper _reaper;
    private readonly string _self;

    public ProcessLauncher(Reaper reaper)
    {
        _reaper = reaper;
        _self = Environment.ProcessPath ?? "/init";
    }

    public GuestProcess Launch(string execId, InitSpec spec, bool exec, bool terminal, bool stdin)
    {
        var (specRead, specWrite) = Pipes.Create();
        var (syncRead, syncWrite) = Pipes.Create();
        var (startRead, startWrite) = Pipes.Create();
        SafeFd? master = null, slave = null, inR = null, inW = null, outR = null, outW = null, errR = null, errW = null;
        try
        {
            if (terminal)
            {
                (master, slave) = Pty.Open();
                if (spec.Process.ConsoleSize is { } size)
                {
                    Pty.Resize(master.Fd, (ushort)size.Height, (ushort)size.Width);
                }
            }
            else
            {
                (outR, outW) = Pipes.Create();
                (errR, errW) = Pipes.Create();
                if (stdin)
                {
                    (inR, inW) = Pipes.Create();
                }
                else
                {
                    inR = new SafeFd(ErrnoException.Check(Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", "/dev/null"));
                }
            }
            var fds = new Dictionary<int, int>
            {
                [0] = terminal ? slave!.Fd : inR!.Fd,
                [1] = terminal ? slave!.Fd : outW!.Fd,
                [2] = terminal ? slave!.Fd : errW!.Fd,
                [3] = specRead.Fd,
                [4] = syncWrite.Fd,
                [5] = startRead.Fd,
            };
            var request = new SpawnRequest(_self, [_self, exec ? InitSpec.ExecMode : InitSpec.InitMode], Log.Debug ? ["PATH=/bin", "MOAT_DEBUG=1"] : ["PATH=/bin"]) { Fds = fds };
            var (pid, exit) = _reaper.Spawn(() => OnFreshThread(() =>
            {
                if (exec)
                {
                    var nsPath = $"/proc/{spec.InitPid}/ns/pid";
                    var ns = ErrnoException.Check(Libc.open(nsPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", nsPath);
                    try
                    {
                        ErrnoException.Check(Libc.setns(ns, Libc.CLONE_NEWPID), "setns", nsPath);
                    }
                    finally
                    {
                        Libc.close(ns);
                    }
                }
                else
                {
                    ErrnoException.Check(Libc.unshare(NamespaceFlags(spec.Spec)), "unshare");
                }
                return Spawner.Spawn(request);
            }));
            Log.Verbose($"helper {pid} spawned at {Uptime.Milliseconds()} ms");
            specRead.Dispose();
            syncWrite.Dispose();
            startRead.Dispose();
            slave?.Dispose();
            inR?.Dispose();
            outW?.Dispose();
            errW?.Dispose();

            Pipes.WriteAll(specWrite.Fd, JsonSerializer.SerializeToUtf8Bytes(spec, AgentJson.Default.InitSpec));
            specWrite.Dispose();

            var ready = ReadLine(syncRead.Fd);
            Log.Verbose($"helper {pid} {ready} at {Uptime.Milliseconds()} ms");
            if (ready != "ready")
            {
                syncRead.Dispose();
                startWrite.Dispose();
                master?.Dispose();
                outR?.Dispose();
                errR?.Dispose();
                inW?.Dispose();
                exit.Wait(TimeSpan.FromSeconds(5));
                throw AgentException.New(Moat.Ttrpc.StatusCode.Internal, ready.StartsWith("error ", StringComparison.Ordinal)
                    ? ready[6..]
                    : $"container init exited before it was ready{(exit.IsCompleted ? $" (status {exit.Result})" : "")}");
            }
            SafeFd? masterIn = null;
            if (master is not null)
            {
                masterIn = new SafeFd(ErrnoException.Check(Libc.fcntl(master.Fd, 1030 /* F_DUPFD_CLOEXEC */, 0), "dup"));
            }
            var proc = new GuestProcess
            {
                ExecId = execId,
                Pid = pid,
                Exit = exit,
                Stdout = new OutputStream(master ?? outR!, $"stdout-{pid}"),
                Stderr = master is null ? new OutputStream(errR!, $"stderr-{pid}") : null,
                Stdin = masterIn ?? inW,
                PtyMaster = masterIn,
                StartPipe = startWrite,
                SyncPipe = syncRead,
            };
            return proc;
        }
        catch
        {
            specWrite.Dispose();
            specRead.Dispose();
            syncWrite.Dispose();
            startRead.Dispose();
            slave?.Dispose();
            inR?.Dispose();
            outW?.Dispose();
            errW?.Dispose();
            throw;
        }
    }

    /// <summary>Lets an init process exec its workload; returns the exec error, or null once exec succeeded.</summary>
    public static string? Start(GuestProcess p)
    {
        Pipes.WriteAll(p.StartPipe!.Fd, "s"u8);
        p.StartPipe.Dispose();
        p.StartPipe = null;
        return AwaitExec(p);
    }

    public static string? AwaitExec(GuestProcess p)
    {
        var line = ReadLine(p.SyncPipe!.Fd);
        p.SyncPipe.Dispose();
        p.SyncPipe = null;
        return line.Length == 0 ? null : line.StartsWith("error ", StringComparison.Ordinal) ? line[6..] : line;
    }

    private static string ReadLine(int fd)
    {
        var sb = new StringBuilder();
        Span<byte> b = stackalloc byte[1];
        while (Pipes.Read(fd, b) == 1 && b[0] != (byte)'\n')
        {
            sb.Append((char)b[0]);
        }
        return sb.ToString();
    }

    /// <summary>
    /// The namespaces the spec asks for: PID, UTS and IPC are new only when listed (as in runc; an
    /// unlisted one is shared with the guest). The mount namespace is always new, since the
    /// container must never pivot the agent's root.
    /// </summary>
    private static int NamespaceFlags(Moat.Oci.Spec? spec)
    {
        var flags = Libc.CLONE_NEWNS;
        foreach (var ns in spec?.Linux?.Namespaces ?? [])
        {
            if (!string.IsNullOrEmpty(ns.Path))
            {
                continue; // a path names a namespace of the host: there is none to join inside the VM
            }
            flags |= ns.Type switch
            {
                "pid" => Libc.CLONE_NEWPID,
                "uts" => Libc.CLONE_NEWUTS,
                "ipc" => Libc.CLONE_NEWIPC,
                _ => 0,
            };
        }
        return flags;
    }

    private static int OnFreshThread(Func<int> action)
    {
        var pid = 0;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                pid = action();
            }
            catch (Exception e)
            {
                error = e;
            }
        }, 256 * 1024);
        t.Start();
        t.Join();
        return error is null ? pid : throw error;
    }
}
