namespace Moat.Linux;

/// <summary>Capability names (CAP_*) to numbers, as in linux/capability.h.</summary>
public static class Capabilities
{
    private static readonly string[] Names =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
        "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];

    public static int Last => Names.Length - 1;

    /// <summary>CAP_ names of every capability this kernel ABI knows.</summary>
    public static IEnumerable<string> All => Names;

    /// <summary>The CAP_ name of capability <paramref name="cap"/>, or its number when this list does not know it.</summary>
    public static string Name(int cap) => cap >= 0 && cap < Names.Length ? Names[cap] : cap.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static bool TryParse(string name, out int cap)
    {
        cap = Array.IndexOf(Names, name.ToUpperInvariant());
        return cap >= 0;
    }

    /// <summary>Bit mask of the named capabilities; unknown names are ignored (the kernel may be older).</summary>
    public static ulong Mask(IEnumerable<string>? names)
    {
        ulong mask = 0;
        foreach (var n in names ?? [])
        {
            if (TryParse(n, out var c))
            {
                mask |= 1UL << c;
            }
        }
        return mask;
    }
}
