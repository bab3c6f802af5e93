using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// The libseccomp calls a seccomp profile is built with, behind a seam so the translation of a
/// profile can be tested with a recording fake. <see cref="SeccompFilter"/> is the real one.
/// </summary>
public interface ISeccompFilter : IDisposable
{
    /// <summary>Adds an architecture by libseccomp's name ("x86_64", "x86", "x32", ...); false when libseccomp does not know it.</summary>
    bool AddArchitecture(string name);

    /// <summary>Sets a filter attribute (<c>SCMP_FLTATR_*</c>).</summary>
    void SetAttribute(int attribute, uint value);

    /// <summary>The native number of a system call, or null when libseccomp does not know the name.</summary>
    int? ResolveSyscall(string name);

    /// <summary>Adds a rule: <paramref name="action"/> when <paramref name="syscall"/> is made with arguments matching every condition.</summary>
    void AddRule(uint action, int syscall, ReadOnlySpan<Libseccomp.scmp_arg_cmp> conditions);

    /// <summary>Generates the BPF program now (libseccomp's slow part), so that <see cref="Load"/> is one system call.</summary>
    void Compile();

    /// <summary>Loads the filter into the kernel for the calling thread (and its future children and exec'd programs).</summary>
    void Load();
}

/// <summary>
/// A libseccomp filter context. As runc does (libcontainer/seccomp/patchbpf), libseccomp generates
/// the BPF program and Moat loads it with seccomp(2) itself, with the flags the attributes asked
/// for: between <see cref="Compile"/> and execve the helper makes one system call for the filter,
/// and never lets libseccomp touch NO_NEW_PRIVS.
/// </summary>
public sealed unsafe class SeccompFilter : ISeccompFilter
{
    private readonly SafeSeccompFilter _ctx;
    private uint _loadFlags;
    private byte[]? _program;

    private SeccompFilter(SafeSeccompFilter ctx) => _ctx = ctx;

    /// <summary>A filter whose calls not matched by a rule get <paramref name="defaultAction"/>; the native architecture is in it.</summary>
    /// <exception cref="DllNotFoundException">libseccomp.so.2 is not installed.</exception>
    public static SeccompFilter Create(uint defaultAction)
    {
        var ctx = Libseccomp.seccomp_init(defaultAction);
        if (ctx.IsInvalid)
        {
            ctx.Dispose();
            throw new IOException($"seccomp_init: libseccomp refused default action 0x{defaultAction:x8}");
        }
        return new SeccompFilter(ctx);
    }

    public bool AddArchitecture(string name)
    {
        var arch = Libseccomp.seccomp_arch_resolve_name(name);
        if (arch == 0)
        {
            return false;
        }
        if (Libseccomp.seccomp_arch_exist(_ctx, arch) == 0)
        {
            return true; // the native one is there from the start
        }
        Check(Libseccomp.seccomp_arch_add(_ctx, arch), "seccomp_arch_add", name);
        return true;
    }

    public void SetAttribute(int attribute, uint value)
    {
        Check(Libseccomp.seccomp_attr_set(_ctx, attribute, value), "seccomp_attr_set", attribute.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var flag = attribute switch
        {
            Libseccomp.SCMP_FLTATR_CTL_TSYNC => Libc.SECCOMP_FILTER_FLAG_TSYNC,
            Libseccomp.SCMP_FLTATR_CTL_LOG => Libc.SECCOMP_FILTER_FLAG_LOG,
            Libseccomp.SCMP_FLTATR_CTL_SSB => Libc.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            _ => 0u,
        };
        _loadFlags = value != 0 ? _loadFlags | flag : _loadFlags & ~flag;
    }

    public int? ResolveSyscall(string name)
    {
        var nr = Libseccomp.seccomp_syscall_resolve_name(name);
        return nr == Libseccomp.__NR_SCMP_ERROR ? null : nr;
    }

    public void AddRule(uint action, int syscall, ReadOnlySpan<Libseccomp.scmp_arg_cmp> conditions)
    {
        fixed (Libseccomp.scmp_arg_cmp* c = conditions)
        {
            Check(Libseccomp.seccomp_rule_add_array(_ctx, action, syscall, (uint)conditions.Length, c), "seccomp_rule_add",
                $"syscall {syscall.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }
    }

    /// <summary>Instructions of the program <see cref="Compile"/> generated (0 before).</summary>
    public int Instructions => (_program?.Length ?? 0) / Libc.SockFilterSize;

    public void Compile()
    {
        if (_program is not null)
        {
            return;
        }
        var fd = ErrnoException.Check(Libc.memfd_create("moat-seccomp", Libc.MFD_CLOEXEC), "memfd_create");
        try
        {
            Check(Libseccomp.seccomp_export_bpf(_ctx, fd), "seccomp_export_bpf");
            var size = ErrnoException.Check(Libc.lseek(fd, 0, Libc.SEEK_END), "lseek", "seccomp program");
            if (size == 0 || size % Libc.SockFilterSize != 0 || size / Libc.SockFilterSize > ushort.MaxValue)
            {
                throw new IOException($"seccomp_export_bpf: a program of {size} bytes is not a BPF program the kernel can take");
            }
            var program = new byte[size];
            fixed (byte* p = program)
            {
                for (long done = 0; done < size;)
                {
                    var n = Libc.pread(fd, p + done, (nint)(size - done), done);
                    done += n > 0 ? n : throw new ErrnoException("pread", n < 0 ? System.Runtime.InteropServices.Marshal.GetLastPInvokeError() : 0, "seccomp program");
                }
            }
            _program = program;
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>seccomp(SECCOMP_SET_MODE_FILTER): needs no_new_privs or CAP_SYS_ADMIN, as the kernel says.</summary>
    public void Load()
    {
        Compile();
        fixed (byte* p = _program)
        {
            var prog = new Libc.sock_fprog { len = (ushort)(_program!.Length / Libc.SockFilterSize), filter = p };
            var result = ErrnoException.Check(Libc.syscall(Libc.SYS_seccomp, (nint)Libc.SECCOMP_SET_MODE_FILTER, (nint)_loadFlags, (nint)(&prog), 0, 0), "seccomp(SECCOMP_SET_MODE_FILTER)");
            if (result > 0)
            {
                throw new IOException($"seccomp(SECCOMP_SET_MODE_FILTER): with SECCOMP_FILTER_FLAG_TSYNC, thread {result} could not take the filter");
            }
        }
    }

    /// <summary>The filter as libseccomp's pseudo-filter code (PFC), a readable listing of its rules.</summary>
    public string ExportPfc()
    {
        var path = Path.Combine(Path.GetTempPath(), $"moat-seccomp-{Guid.NewGuid():N}.pfc");
        var fd = ErrnoException.Check(Libc.open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x180 /* 0600 */), "open", path);
        try
        {
            Check(Libseccomp.seccomp_export_pfc(_ctx, fd), "seccomp_export_pfc");
            return File.ReadAllText(path);
        }
        finally
        {
            Libc.close(fd);
            File.Delete(path);
        }
    }

    public void Dispose() => _ctx.Dispose();

    /// <summary>libseccomp returns a negative errno rather than setting errno.</summary>
    private static void Check(int result, string call, string? subject = null)
    {
        if (result < 0)
        {
            throw new ErrnoException(call, -result, subject);
        }
    }
}
