using System.Runtime.InteropServices;
using System.Text;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>What to start: the child's fd table is exactly <see cref="Fds"/> (child fd to parent fd).</summary>
public sealed record SpawnRequest(string Path, IReadOnlyList<string> Args, IReadOnlyList<string> Env)
{
    public IReadOnlyDictionary<int, int> Fds { get; init; } = new Dictionary<int, int>();
    public bool NewSession { get; init; }
    public string? WorkingDirectory { get; init; }
}

/// <summary>
/// posix_spawn from the calling thread, so the child inherits that thread's namespaces and
/// credentials; signal mask and dispositions are reset in the child.
/// </summary>
public static unsafe class Spawner
{
    public static int Spawn(SpawnRequest request)
    {
        var fa = NativeMemory.AllocZeroed(Libc.SpawnFileActionsSize);
        var attr = NativeMemory.AllocZeroed(Libc.SpawnAttrSize);
        var mask = NativeMemory.AllocZeroed(Libc.SigSetSize);
        var defaults = NativeMemory.AllocZeroed(Libc.SigSetSize);
        using var argv = new NativeStringArray(request.Args);
        using var envp = new NativeStringArray(request.Env);
        try
        {
            Check(Libc.posix_spawn_file_actions_init(fa), "posix_spawn_file_actions_init");
            Check(Libc.posix_spawnattr_init(attr), "posix_spawnattr_init");
            // dup2 onto the target numbers; fds duplicated this way lose O_CLOEXEC. A source equal
            // to its target would keep CLOEXEC, so it is first moved through a temporary number.
            var temps = new List<int>();
            foreach (var (child, parent) in request.Fds)
            {
                if (child == parent)
                {
                    var tmp = ErrnoException.Check(Libc.fcntl(parent, Libc.F_DUPFD_CLOEXEC, 100), "fcntl");
                    temps.Add(tmp);
                    Check(Libc.posix_spawn_file_actions_adddup2(fa, tmp, child), "adddup2");
                }
                else
                {
                    Check(Libc.posix_spawn_file_actions_adddup2(fa, parent, child), "adddup2");
                }
            }
            if (request.WorkingDirectory is { } cwd)
            {
                var bytes = Encoding.UTF8.GetBytes(cwd + "\0");
                fixed (byte* p = bytes)
                {
                    Check(Libc.posix_spawn_file_actions_addchdir_np(fa, p), "addchdir");
                }
            }
            Libc.sigemptyset(mask);
            Libc.sigfillset(defaults);
            Check(Libc.posix_spawnattr_setsigmask(attr, mask), "setsigmask");
            Check(Libc.posix_spawnattr_setsigdefault(attr, defaults), "setsigdefault");
            var flags = (short)(Libc.POSIX_SPAWN_SETSIGMASK | Libc.POSIX_SPAWN_SETSIGDEF);
            if (request.NewSession)
            {
                flags |= Libc.POSIX_SPAWN_SETSID;
            }
            Check(Libc.posix_spawnattr_setflags(attr, flags), "setflags");

            var path = Encoding.UTF8.GetBytes(request.Path + "\0");
            int pid;
            int rc;
            fixed (byte* p = path)
            {
                rc = Libc.posix_spawn(&pid, p, fa, attr, argv.Pointer, envp.Pointer);
            }
            foreach (var t in temps)
            {
                Libc.close(t);
            }
            if (rc != 0)
            {
                throw new ErrnoException("spawn", rc, request.Path);
            }
            return pid;
        }
        finally
        {
            Libc.posix_spawn_file_actions_destroy(fa);
            Libc.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fa);
            NativeMemory.Free(attr);
            NativeMemory.Free(mask);
            NativeMemory.Free(defaults);
        }
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new ErrnoException(what, rc);
        }
    }
}
