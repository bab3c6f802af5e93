using System.Text;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Agent;

/// <summary>
/// Starts the container-init helper on a fresh thread that first enters the namespaces the
/// helper must be born in (a new PID namespace for init, the container's for exec), since
/// posix_spawn's child inherits the calling thread's namespaces.
/// Init helpers are kept on standby: starting a NativeAOT process costs ~450 ms under TCG
/// (measured), so the next container's helper is started before it is asked for. A booting VM
/// (a template's, so every clone) starts two, one for a pod's sandbox and one for its first
/// container, which comes before a helper started after the sandbox's could be ready; once one is
/// taken, one is kept (each idle helper is guest memory).
/// </summary>
internal sealed class ProcessLauncher
{
    private const int DefaultInitFlags = Libc.CLONE_NEWNS | Libc.CLONE_NEWPID | Libc.CLONE_NEWUTS | Libc.CLONE_NEWIPC;

    /// <summary>Standby helpers a booting VM starts (<see cref="PrepareStandby"/>).</summary>
    public const int BootStandbys = 2;

    private readonly Reaper _reaper;
    private readonly string _self;
    private readonly object _standbyLock = new();
    private readonly List<Helper> _standbys = [];

    /// <summary>Standby helpers being started now (guarded by <see cref="_standbyLock"/>).</summary>
    private int _starting;

    public ProcessLauncher(Reaper reaper)
    {
        _reaper = reaper;
        _self = Environment.ProcessPath ?? "/init";
    }

    /// <summary>A spawned helper that has not been given its spec yet, with the agent's ends of its pipes.</summary>
    private sealed class Helper
    {
        public required int Pid { get; init; }
        public required Task<int> Exit { get; init; }
        public required int Flags { get; init; }
        public required SafeFd SpecWrite { get; init; }
        public required SafeFd SyncRead { get; init; }
        public required SafeFd StartWrite { get; init; }
        public SafeFd? Master { get; set; }
        public SafeFd? ConsoleSocket { get; init; }
        public SafeFd? OutRead { get; init; }
        public SafeFd? ErrRead { get; init; }
        public SafeFd? InWrite { get; set; }

        public void Dispose()
        {
            SpecWrite.Dispose();
            SyncRead.Dispose();
            StartWrite.Dispose();
            Master?.Dispose();
            ConsoleSocket?.Dispose();
            OutRead?.Dispose();
            ErrRead?.Dispose();
            InWrite?.Dispose();
        }
    }

    /// <summary>
    /// True once no standby helper is being started and each has warmed up and waits for its
    /// spec: its main thread is blocked in read(2) on the spec pipe (/proc/PID/syscall: "0 0x3 ...").
    /// </summary>
    public bool StandbyWarm()
    {
        Helper[] standbys;
        lock (_standbyLock)
        {
            if (_starting > 0)
            {
                return false;
            }
            standbys = [.. _standbys];
        }
        return standbys.Length > 0 && standbys.All(s => !s.Exit.IsCompleted && WaitsForSpec(s.Pid));
    }

    private static bool WaitsForSpec(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/syscall").StartsWith($"0 0x{ContainerInit.SpecFd:x} ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Starts standby init helpers until there are <paramref name="count"/> (call off the request path).</summary>
    public void PrepareStandby(int count)
    {
        while (true)
        {
            lock (_standbyLock)
            {
                foreach (var gone in _standbys.Where(s => s.Exit.IsCompleted).ToList())
                {
                    gone.Dispose(); // its pipes: it exited before it was given a spec
                    _standbys.Remove(gone);
                }
                if (_standbys.Count + _starting >= count)
                {
                    return;
                }
                _starting++;
            }
            Helper? helper = null;
            try
            {
                helper = SpawnHelper(exec: false, DefaultInitFlags, initPid: 0, terminal: false, stdin: true, standby: true);
            }
            catch (Exception e)
            {
                Log.Info($"standby helper: {e.Message}");
            }
            finally
            {
                lock (_standbyLock)
                {
                    _starting--;
                    if (helper is not null)
                    {
                        _standbys.Add(helper);
                    }
                }
            }
            if (helper is null)
            {
                return;
            }
        }
    }

    /// <param name="beforeSpec">Runs with the helper's pid before it is handed its spec (joins the container's cgroup).</param>
    /// <param name="joins">Namespaces to join instead of creating (type, e.g. "pid", and a process of that namespace), for a pod's shared namespaces.</param>
    public GuestProcess Launch(string execId, InitSpec spec, bool exec, bool terminal, bool stdin, Action<int>? beforeSpec = null,
        IReadOnlyList<(string Type, int Pid)>? joins = null)
    {
        joins ??= [];
        var joinFlags = joins.Aggregate(0, (f, j) => f | CloneFlag(j.Type));
        var flags = exec ? 0 : NamespaceFlags(spec.Spec) & ~joinFlags;
        Helper? helper = null;
        // A standby helper was born in new namespaces of every kind; it swaps the new IPC and UTS
        // ones for a pod's own by itself, but a PID namespace can only be joined at birth.
        if (!exec && !terminal && joins.All(j => j.Type is "ipc" or "uts"))
        {
            lock (_standbyLock)
            {
                if (_standbys.FirstOrDefault(s => s.Flags == (flags | joinFlags) && !s.Exit.IsCompleted) is { } s)
                {
                    helper = s;
                    _standbys.Remove(s);
                    spec.Joins = joins.Select(j => (j.Type, $"/proc/{j.Pid}/ns/{j.Type}")).ToList();
                }
            }
            if (helper is not null)
            {
                Log.Verbose($"helper {helper.Pid} taken from standby{(joins.Count > 0 ? ", joining " + string.Join(' ', joins.Select(j => j.Type)) : "")}");
                _ = Task.Run(() => PrepareStandby(1));
                if (!stdin)
                {
                    helper.InWrite?.Dispose(); // the process reads EOF, as from /dev/null
                    helper.InWrite = null;
                }
            }
        }
        if (helper is null)
        {
            spec.Joins = [];
            helper = SpawnHelper(exec, flags, spec.InitPid, terminal, stdin, joins);
        }
        try
        {
            beforeSpec?.Invoke(helper.Pid);
            Pipes.WriteAll(helper.SpecWrite.Fd, spec.ToJson());
            helper.SpecWrite.Dispose();
            var ready = ReadLine(helper.SyncRead.Fd);
            Log.Verbose($"helper {helper.Pid} {ready} at {Uptime.Milliseconds()} ms");
            if (ready != "ready" && !ready.StartsWith("ready ", StringComparison.Ordinal))
            {
                helper.Exit.Wait(TimeSpan.FromSeconds(5));
                throw new AgentException(AgentErrorKind.Internal, ready.StartsWith("error ", StringComparison.Ordinal)
                    ? ready[6..]
                    : $"container init exited before it was ready{(helper.Exit.IsCompleted ? $" (status {helper.Exit.Result})" : "")}");
            }
            if (helper.ConsoleSocket is { } console)
            {
                // The helper opened the pty inside the container's own devpts and sent us the master.
                helper.Master = FdPassing.Receive(console.Fd).Fd;
                console.Dispose();
            }
        }
        catch
        {
            helper.Dispose();
            throw;
        }
        SafeFd? masterIn = null;
        if (helper.Master is not null)
        {
            masterIn = new SafeFd(ErrnoException.Check(Libc.fcntl(helper.Master.Fd, Libc.F_DUPFD_CLOEXEC, 0), "dup"));
        }
        return new GuestProcess
        {
            ExecId = execId,
            Pid = helper.Pid,
            Exit = helper.Exit,
            Stdout = new OutputStream(helper.Master ?? helper.OutRead!, $"stdout-{helper.Pid}"),
            Stderr = helper.Master is null ? new OutputStream(helper.ErrRead!, $"stderr-{helper.Pid}") : null,
            Stdin = masterIn ?? helper.InWrite,
            PtyMaster = masterIn,
            StartPipe = helper.StartWrite,
            SyncPipe = helper.SyncRead,
        };
    }

    /// <summary>The clone flag of a namespace type a container can share ("pid", "uts", "ipc"); 0 for others.</summary>
    internal static int CloneFlag(string type) => type switch
    {
        "pid" => Libc.CLONE_NEWPID,
        "uts" => Libc.CLONE_NEWUTS,
        "ipc" => Libc.CLONE_NEWIPC,
        _ => 0,
    };

    private Helper SpawnHelper(bool exec, int flags, int initPid, bool terminal, bool stdin, IReadOnlyList<(string Type, int Pid)>? joins = null,
        bool standby = false)
    {
        var (specRead, specWrite) = Pipes.Create();
        var (syncRead, syncWrite) = Pipes.Create();
        var (startRead, startWrite) = Pipes.Create();
        SafeFd? consoleAgent = null, consoleChild = null, devnull = null, inR = null, inW = null, outR = null, outW = null, errR = null, errW = null;
        try
        {
            if (terminal)
            {
                // runc's console-socket model: the pty must come from the container's devpts.
                (consoleAgent, consoleChild) = FdPassing.SocketPair();
                devnull = new SafeFd(ErrnoException.Check(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null"));
            }
            else
            {
                (outR, outW) = Pipes.Create();
                (errR, errW) = Pipes.Create();
                // 1 MiB instead of 64 KiB: each ReadStdout then carries up to 16 times more.
                Pipes.TryGrow(outR, OutputStream.ChunkBytes);
                Pipes.TryGrow(errR, OutputStream.ChunkBytes);
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
                [0] = terminal ? devnull!.Fd : inR!.Fd,
                [1] = terminal ? devnull!.Fd : outW!.Fd,
                [2] = terminal ? devnull!.Fd : errW!.Fd,
                [3] = specRead.Fd,
                [4] = syncWrite.Fd,
                [5] = startRead.Fd,
            };
            if (consoleChild is not null)
            {
                fds[ContainerInit.ConsoleFd] = consoleChild.Fd;
            }
            string[] argv = standby ? [_self, InitSpec.InitMode, InitSpec.StandbyFlag] : [_self, exec ? InitSpec.ExecMode : InitSpec.InitMode];
            var request = new SpawnRequest(_self, argv, ["PATH=/bin"]) { Fds = fds };
            var (pid, exit) = _reaper.Spawn(() => FreshThread.Run(() =>
            {
                if (exec)
                {
                    FreshThread.Enter($"/proc/{initPid}/ns/pid", Libc.CLONE_NEWPID);
                }
                else
                {
                    foreach (var (type, pid) in joins ?? [])
                    {
                        FreshThread.Enter($"/proc/{pid}/ns/{type}", CloneFlag(type));
                    }
                    ErrnoException.Check(Libc.unshare(flags), "unshare");
                }
                return Spawner.Spawn(request);
            }));
            return new Helper
            {
                Pid = pid,
                Exit = exit,
                Flags = flags,
                SpecWrite = specWrite,
                SyncRead = syncRead,
                StartWrite = startWrite,
                ConsoleSocket = consoleAgent,
                OutRead = outR,
                ErrRead = errR,
                InWrite = inW,
            };
        }
        catch
        {
            specWrite.Dispose();
            syncRead.Dispose();
            startWrite.Dispose();
            consoleAgent?.Dispose();
            outR?.Dispose();
            errR?.Dispose();
            inW?.Dispose();
            throw;
        }
        finally
        {
            // The child's ends: it has its own copies now.
            specRead.Dispose();
            syncWrite.Dispose();
            startRead.Dispose();
            consoleChild?.Dispose();
            devnull?.Dispose();
            inR?.Dispose();
            outW?.Dispose();
            errW?.Dispose();
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
        var bytes = new List<byte>();
        Span<byte> b = stackalloc byte[1];
        while (Pipes.Read(fd, b) == 1 && b[0] != (byte)'\n')
        {
            bytes.Add(b[0]);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
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
}
