using System.Runtime.InteropServices;
using System.Text;
using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Oci;

namespace Moat.Agent;

/// <summary>
/// The container-init helper: the agent binary re-executed as PID 1 of the container's new PID
/// namespace (init mode) or inside an existing container's PID namespace (exec mode). It sets up
/// the container's view of the world on its main thread and then execs the workload itself, so
/// the workload keeps its pid. fd 3: the <see cref="InitSpec"/> JSON; fd 4: sync pipe to the agent
/// ("ready" and step timings, or "error ..."; closed by exec on success); fd 5: start pipe (init mode: exec on a byte).
/// </summary>
internal static unsafe partial class ContainerInit
{
    internal const int SpecFd = 3;
    private const int SyncFd = 4, StartFd = 5;

    /// <summary>With a terminal: a socket to send the pty master back to the agent on.</summary>
    public const int ConsoleFd = 6;

    /// <param name="standby">Started ahead of need (a standby init helper): its warm-up also loads libseccomp.</param>
    public static int Run(bool exec, bool standby = false)
    {
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var marks = new StringBuilder();
            void Mark(string what) => marks.Append(System.Globalization.CultureInfo.InvariantCulture, $" {what} {clock.ElapsedMilliseconds}");
            Pipes.SetCloexec(SyncFd, true);
            Pipes.SetCloexec(StartFd, true);
            WarmUp(standby);
            Mark("warm");
            var json = ReadAll(SpecFd);
            clock.Restart();
            var spec = InitSpec.FromJson(json);
            Libc.close(SpecFd);
            Mark("parsed");
            // As runc: the process's OOM rank, set here (the guest's /proc) and inherited through execve.
            if (spec.Process.OomScoreAdj is { } oom)
            {
                File.WriteAllText("/proc/self/oom_score_adj", oom.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            // Built while this helper still sees the guest's own root, where libseccomp is: the
            // container's rootfs need not have it. Loaded in Finish.
            var seccomp = exec ? spec.Seccomp : spec.Spec?.Linux?.Seccomp;
            using var filter = seccomp is null ? null : BuildFilter(seccomp);
            if (filter is not null)
            {
                Mark("seccomp");
            }
            string? program = null; // what create found on PATH, for start's execve
            if (exec)
            {
                JoinContainer(spec.InitPid);
            }
            else
            {
                foreach (var (type, path) in spec.Joins)
                {
                    FreshThread.Enter(path, type is "ipc" or "uts" ? ProcessLauncher.CloneFlag(type) : throw new InvalidDataException($"a standby helper cannot join a {type} namespace"));
                }
                // The guest is a cgroup v2 host, and runc there gives each container a cgroup
                // namespace rooted at its own cgroup (which the agent put this helper in before
                // it sent the spec): /proc/self/cgroup reads "0::/" and the cgroup2 mount below
                // shows the container's own files (memory.max, cpu.max), not the guest's root.
                ErrnoException.Check(Libc.unshare(Libc.CLONE_NEWCGROUP), "unshare(CLONE_NEWCGROUP)");
                if (spec.Hold)
                {
                    PodHolder.Prepare(spec.Spec!);
                }
                else
                {
                    RootfsSetup.Prepare(spec.Spec!, spec.Rootfs, Mark);
                    // As runc's init: a program that is not there fails create, not start, so callers
                    // clean up a failed create (Docker, containerd's runc shim) and never hold a task
                    // whose start cannot work. Whether it may be exec'd is still execve's answer. As
                    // runc, the program found here is the one start execs: PATH is not searched twice.
                    program = CheckExists(spec.Process);
                    Mark("program");
                }
            }
            if (spec.Process.Terminal)
            {
                OpenConsole(spec.Process.ConsoleSize);
            }
            Mark("set-up");
            // The milliseconds of each step (the warm-up's since start, the rest since the spec came) follow "ready" for the agent's log.
            Pipes.WriteAll(SyncFd, Encoding.UTF8.GetBytes("ready" + marks + "\n"));
            if (!exec)
            {
                Span<byte> b = stackalloc byte[1];
                if (Pipes.Read(StartFd, b) == 0)
                {
                    return 0; // the agent gave up on this container before starting it
                }
            }
            if (spec.Hold)
            {
                BecomeProcess(spec.Process, terminal: false, filter, loadFilterLast: true);
                // What execve's close-on-exec does for a run container: the agent reads EOF, "started".
                Libc.close(StartFd);
                Libc.close(SyncFd);
                PodHolder.Hold();
            }
            Finish(spec.Process, spec.Spec?.Process?.Terminal ?? spec.Process.Terminal, filter, program);
            return 1; // not reached: Finish execs or throws, Hold never returns
        }
        catch (Exception e)
        {
            var msg = (e is AggregateException a ? a.InnerException ?? e : e).Message.ReplaceLineEndings(" ");
            try
            {
                Pipes.WriteAll(SyncFd, Encoding.UTF8.GetBytes("error " + msg + "\n"));
            }
            catch (IOException)
            {
                // the agent is gone; nothing to tell
            }
            return 1;
        }
    }

    /// <summary>
    /// Runs the JSON code once before the spec arrives (<see cref="Prewarm"/>): a standby helper
    /// waits on fd 3, and under software emulation first-time code is slow, so the work is done
    /// while nobody waits. A standby also builds (and drops) a small seccomp filter: libseccomp is
    /// then loaded and relocated, in a VM template too, and its code translated for the helpers after it.
    /// </summary>
    private static void WarmUp(bool standby)
    {
        Prewarm.Helper();
        if (standby)
        {
            try
            {
                using var filter = SeccompProfile.Build(Prewarm.SeccompSample(), SeccompFilter.Create);
                filter.Compile();
            }
            catch (Exception e) when (e is DllNotFoundException or IOException)
            {
                // Reported when a container asks for a filter; nothing to do for one that does not.
            }
        }
    }

    /// <summary>Opens a pty in the container's own devpts, makes it stdio, and sends the master to the agent.</summary>
    private static void OpenConsole(ConsoleSize? size)
    {
        var (master, slave) = Pty.Open();
        using (master)
        using (slave)
        {
            if (size is not null)
            {
                Pty.Resize(master.Fd, (ushort)size.Height, (ushort)size.Width);
            }
            for (var fd = 0; fd <= 2; fd++)
            {
                ErrnoException.Check(Libc.dup3(slave.Fd, fd, 0), "dup3", "console");
            }
            FdPassing.Send(ConsoleFd, master.Fd, []);
        }
        Libc.close(ConsoleFd);
    }

    private static byte[] ReadAll(int fd)
    {
        using var ms = new MemoryStream();
        var buf = new byte[65536];
        int n;
        while ((n = Pipes.Read(fd, buf)) > 0)
        {
            ms.Write(buf, 0, n);
        }
        return ms.ToArray();
    }

    /// <summary>Enters the cgroup, mount, UTS and IPC namespaces of a running container (the PID namespace was set by the agent).</summary>
    private static void JoinContainer(int initPid)
    {
        string[] kinds = ["cgroup", "ipc", "uts", "mnt"];
        int[] types = [Libc.CLONE_NEWCGROUP, Libc.CLONE_NEWIPC, Libc.CLONE_NEWUTS, Libc.CLONE_NEWNS];
        var fds = kinds.Select(k => ErrnoException.Check(
            Libc.open($"/proc/{initPid}/ns/{k}", Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", $"/proc/{initPid}/ns/{k}")).ToArray();
        ErrnoException.Check(Libc.unshare(Libc.CLONE_FS), "unshare(CLONE_FS)");
        for (var i = 0; i < fds.Length; i++)
        {
            ErrnoException.Check(Libc.setns(fds[i], types[i]), "setns", kinds[i]);
            Libc.close(fds[i]);
        }
    }

    /// <summary>
    /// Limits, credentials, capabilities and the seccomp filter, then execve. Only returns by throwing.
    /// The filter (built before the set-up) is loaded where runc loads it (standard_init_linux.go,
    /// setns_init_linux.go): without no_new_privileges loading a filter needs CAP_SYS_ADMIN, so it
    /// is loaded before the capabilities are dropped; with it, as late as possible, right before
    /// execve, so the fewest of the helper's own calls must pass it.
    /// </summary>
    /// <param name="program">The program create found (<see cref="CheckExists"/>); null: look it up now (exec).</param>
    private static void Finish(Moat.Oci.Process p, bool terminal, ISeccompFilter? filter, string? program)
    {
        BecomeProcess(p, terminal, filter, loadFilterLast: false);
        var env = p.Env ?? [];
        var args = p.Args ?? throw new InvalidDataException("process.args is empty");
        var path = program ?? ResolveExecutable(args[0], env);
        using var argv = new NativeStringArray(args);
        using var envp = new NativeStringArray(env);
        if (filter is not null && p.NoNewPrivileges)
        {
            LoadFilter(filter);
        }
        Libc.execve(path, argv.Pointer, envp.Pointer);
        var errno = Marshal.GetLastPInvokeError();
        throw new IOException($"exec \"{args[0]}\": {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>
    /// Everything of <paramref name="p"/> but its program: limits, session, credentials,
    /// capabilities, and the seccomp filter where runc loads it (see <see cref="Finish"/>; with
    /// <paramref name="loadFilterLast"/> a no_new_privileges filter is loaded here, last, too).
    /// </summary>
    private static void BecomeProcess(Moat.Oci.Process p, bool terminal, ISeccompFilter? filter, bool loadFilterLast)
    {
        foreach (var r in p.Rlimits ?? [])
        {
            if (!Rlimits.TryParse(r.Type, out var res))
            {
                throw new InvalidDataException($"unknown rlimit {r.Type}");
            }
            var lim = new Libc.rlimit { rlim_cur = r.Soft, rlim_max = r.Hard };
            ErrnoException.Check(Libc.setrlimit(res, &lim), "setrlimit", r.Type);
        }
        Libc.setsid();
        if (terminal)
        {
            ErrnoException.Check(Libc.ioctl(0, Libc.TIOCSCTTY, 0), "ioctl(TIOCSCTTY)");
        }
        if (p.NoNewPrivileges)
        {
            ErrnoException.Check(Libc.prctl(Libc.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
        }
        var cwd = string.IsNullOrEmpty(p.Cwd) ? "/" : p.Cwd;
        ErrnoException.Check(Libc.chdir(cwd), "chdir", cwd);
        Libc.umask((int)(p.User.Umask ?? 0x12 /* 0022 */));
        // Before any filter: personality(2) is a call profiles restrict.
        HelperLayout.RandomizeWorkload();

        var caps = CapabilitiesOf(p);
        if (filter is not null && !p.NoNewPrivileges)
        {
            LoadFilter(filter);
        }
        caps.ApplyBounding();
        var gids = (p.User.AdditionalGids ?? []).ToArray();
        fixed (uint* g = gids)
        {
            ErrnoException.Check(Libc.setgroups(gids.Length, g), "setgroups");
        }
        ErrnoException.Check(Libc.prctl(Libc.PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)");
        ErrnoException.Check(Libc.setresgid(p.User.Gid, p.User.Gid, p.User.Gid), "setresgid", p.User.Gid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        ErrnoException.Check(Libc.setresuid(p.User.Uid, p.User.Uid, p.User.Uid), "setresuid", p.User.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Libc.prctl(Libc.PR_SET_KEEPCAPS, 0, 0, 0, 0);
        caps.ApplyProcessSets();
        if (loadFilterLast && filter is not null && p.NoNewPrivileges)
        {
            LoadFilter(filter);
        }
    }

    /// <summary>
    /// The process's capability sets: what <c>process.capabilities</c> lists, and nothing else. A
    /// missing object or a missing or empty set is an empty set (<c>"capabilities": {}</c> is what
    /// containerd writes for <c>drop: [ALL]</c>), so a process never keeps a privilege its spec does not name.
    /// </summary>
    internal static CapabilitySets CapabilitiesOf(Moat.Oci.Process p) =>
        p.Capabilities is { } c
            ? CapabilitySets.FromNames(c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient)
            : default;

    private static ISeccompFilter BuildFilter(LinuxSeccomp profile)
    {
        ISeccompFilter? filter = null;
        try
        {
            filter = SeccompProfile.Build(profile, SeccompFilter.Create);
            filter.Compile(); // the BPF program now: the start path then only loads it
            return filter;
        }
        catch (DllNotFoundException)
        {
            throw new IOException($"linux.seccomp: {Libseccomp.Lib} is not in the guest image: rebuild it with 'moat image build'");
        }
        catch (IOException e)
        {
            filter?.Dispose();
            throw new IOException($"linux.seccomp: {e.Message}", e);
        }
    }

    private static void LoadFilter(ISeccompFilter filter)
    {
        try
        {
            filter.Load();
        }
        catch (IOException e)
        {
            throw new IOException($"linux.seccomp: {e.Message}", e);
        }
    }

    /// <summary>
    /// The process's program, looked up in the container's root, exists (relative paths from its
    /// cwd) and may be executed; returns it as found on PATH. Every check of a name costs a round
    /// trip to the host's share, so its status is read once.
    /// </summary>
    private static string CheckExists(Moat.Oci.Process p)
    {
        var file = p.Args is [var first, ..] ? first : throw new InvalidDataException("process.args is empty");
        var found = ResolveExecutable(file, p.Env ?? []);
        var path = Path.IsPathRooted(found) ? found : Path.Combine(string.IsNullOrEmpty(p.Cwd) ? "/" : p.Cwd, found);
        switch (Status(path))
        {
            case null:
                throw new FileNotFoundException($"exec \"{file}\": No such file or directory");
            // runc's LookPath also wants an execute bit: a directory or a file nobody may execute fails
            // create, so callers never hold a created task whose start cannot work (Docker deletes a
            // failed start's task at once, before containerd's runc shim may have seen it stop).
            case { IsDirectory: true }:
                throw new UnauthorizedAccessException($"exec \"{file}\": Is a directory");
            case { Executable: false }:
                throw new UnauthorizedAccessException($"exec \"{file}\": Permission denied");
        }
        // execve says the same "No such file or directory" when the program's loader or a script's
        // interpreter is missing (a dynamically linked binary copied into a static image).
        if (ExecInterpreter.Of(path) is { } interpreter && Path.IsPathRooted(interpreter) && !File.Exists(interpreter))
        {
            throw new FileNotFoundException(
                $"exec \"{file}\": No such file or directory: it needs {interpreter}, which is not in the container's root (link it statically or add {interpreter} and its libraries to the image)");
        }
        return found;
    }

    private const UnixFileMode AnyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>Whether <paramref name="path"/> names a directory, and whether anyone may execute it; null when nothing is there. One status read (two for a symbolic link).</summary>
    private static (bool IsDirectory, bool Executable)? Status(string path)
    {
        var info = new FileInfo(path);
        try
        {
            var attributes = info.Attributes; // -1 when there is nothing at the path
            if ((int)attributes == -1)
            {
                return null;
            }
            return ((attributes & FileAttributes.Directory) != 0, (info.UnixFileMode & AnyExecute) != 0);
        }
        catch (UnauthorizedAccessException)
        {
            return (false, false); // there, but not for us: execve would say "Permission denied" too
        }
    }

    /// <summary>PATH lookup the way runc does it, with the container's own PATH.</summary>
    private static string ResolveExecutable(string file, IEnumerable<string> env)
    {
        if (file.Contains('/'))
        {
            return file;
        }
        var pathVar = env.FirstOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..]
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (var dir in pathVar.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, file);
            if (Status(candidate) is { IsDirectory: false, Executable: true })
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"exec: \"{file}\": executable file not found in $PATH");
    }
}
