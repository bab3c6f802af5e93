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

    /// <summary>Loads the filter into the kernel for the calling thread (and its future children and exec'd programs).</summary>
    void Load();
}

/// <summary>A libseccomp filter context.</summary>
public sealed unsafe class SeccompFilter : ISeccompFilter
{
    private readonly SafeSeccompFilter _ctx;

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

    public void SetAttribute(int attribute, uint value) =>
        Check(Libseccomp.seccomp_attr_set(_ctx, attribute, value), "seccomp_attr_set", attribute.ToString(System.Globalization.CultureInfo.InvariantCulture));

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

    public void Load() => Check(Libseccomp.seccomp_load(_ctx), "seccomp_load");

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
