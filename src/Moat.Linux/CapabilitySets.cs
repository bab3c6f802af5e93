using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// The five capability sets of a process as bit masks (bit n is capability n of linux/capability.h).
/// A set that is not given is empty, as with runc: <c>"capabilities": {}</c> (what containerd
/// writes for <c>drop: [ALL]</c>) leaves a process with no capability at all.
/// </summary>
public readonly record struct CapabilitySets(ulong Bounding, ulong Effective, ulong Permitted, ulong Inheritable, ulong Ambient)
{
    /// <summary>Highest capability number a 64-bit mask can carry.</summary>
    private const int MaxCapability = 63;

    /// <summary>The sets named by CAP_ names; null or missing lists are empty sets, unknown names are ignored.</summary>
    public static CapabilitySets FromNames(IEnumerable<string>? bounding, IEnumerable<string>? effective, IEnumerable<string>? permitted,
        IEnumerable<string>? inheritable, IEnumerable<string>? ambient) =>
        new(Capabilities.Mask(bounding), Capabilities.Mask(effective), Capabilities.Mask(permitted), Capabilities.Mask(inheritable),
            Capabilities.Mask(ambient));

    /// <summary>
    /// Drops every capability the kernel knows and <see cref="Bounding"/> lacks from the bounding
    /// set. Needs CAP_SETPCAP: call it before changing user.
    /// </summary>
    public void ApplyBounding()
    {
        for (var c = 0; c <= MaxCapability; c++)
        {
            // PR_CAPBSET_READ fails (EINVAL) past the kernel's last capability.
            if ((Bounding & (1UL << c)) == 0 && Libc.prctl(Libc.PR_CAPBSET_READ, (nuint)c, 0, 0, 0) == 1)
            {
                ErrnoException.Check(Libc.prctl(Libc.PR_CAPBSET_DROP, (nuint)c, 0, 0, 0), "prctl(PR_CAPBSET_DROP)", Capabilities.Name(c));
            }
        }
    }

    /// <summary>
    /// Sets the effective, permitted and inheritable sets (capset), then the ambient set: cleared,
    /// and each of <see cref="Ambient"/> raised. As in runc, an ambient capability the kernel will
    /// not raise (it must be permitted and inheritable) is skipped.
    /// </summary>
    public unsafe void ApplyProcessSets()
    {
        var header = stackalloc uint[2] { Libc._LINUX_CAPABILITY_VERSION_3, 0 };
        var data = stackalloc uint[6]
        {
            (uint)Effective, (uint)Permitted, (uint)Inheritable,
            (uint)(Effective >> 32), (uint)(Permitted >> 32), (uint)(Inheritable >> 32),
        };
        ErrnoException.Check(Libc.syscall(Libc.SYS_capset, (nint)header, (nint)data, 0, 0, 0), "capset");
        ErrnoException.Check(Libc.prctl(Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
        for (var c = 0; c <= MaxCapability; c++)
        {
            if ((Ambient & (1UL << c)) != 0)
            {
                Libc.prctl(Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_RAISE, (nuint)c, 0, 0);
            }
        }
    }
}
