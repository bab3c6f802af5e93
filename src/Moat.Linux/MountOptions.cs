using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>mount(8)-style option strings turned into mount(2) flags, propagation and data.</summary>
public sealed record MountOptions(ulong Flags, ulong ClearFlags, ulong Propagation, string Data, bool Bind, bool Recursive)
{
    public bool ReadOnly => (Flags & Libc.MS_RDONLY) != 0;

    private static readonly Dictionary<string, (bool Clear, ulong Flag)> FlagTable = new()
    {
        ["ro"] = (false, Libc.MS_RDONLY), ["rw"] = (true, Libc.MS_RDONLY),
        ["nosuid"] = (false, Libc.MS_NOSUID), ["suid"] = (true, Libc.MS_NOSUID),
        ["nodev"] = (false, Libc.MS_NODEV), ["dev"] = (true, Libc.MS_NODEV),
        ["noexec"] = (false, Libc.MS_NOEXEC), ["exec"] = (true, Libc.MS_NOEXEC),
        ["sync"] = (false, Libc.MS_SYNCHRONOUS), ["async"] = (true, Libc.MS_SYNCHRONOUS),
        ["dirsync"] = (false, Libc.MS_DIRSYNC), ["remount"] = (false, Libc.MS_REMOUNT),
        ["mand"] = (false, Libc.MS_MANDLOCK), ["nomand"] = (true, Libc.MS_MANDLOCK),
        ["noatime"] = (false, Libc.MS_NOATIME), ["atime"] = (true, Libc.MS_NOATIME),
        ["nodiratime"] = (false, Libc.MS_NODIRATIME), ["diratime"] = (true, Libc.MS_NODIRATIME),
        ["relatime"] = (false, Libc.MS_RELATIME), ["norelatime"] = (true, Libc.MS_RELATIME),
        ["strictatime"] = (false, Libc.MS_STRICTATIME), ["nostrictatime"] = (true, Libc.MS_STRICTATIME),
        ["lazytime"] = (false, Libc.MS_LAZYTIME), ["nolazytime"] = (true, Libc.MS_LAZYTIME),
        ["nosymfollow"] = (false, Libc.MS_NOSYMFOLLOW), ["symfollow"] = (true, Libc.MS_NOSYMFOLLOW),
        ["defaults"] = (false, 0),
    };

    private static readonly Dictionary<string, ulong> PropagationTable = new()
    {
        ["private"] = Libc.MS_PRIVATE, ["rprivate"] = Libc.MS_PRIVATE | Libc.MS_REC,
        ["shared"] = Libc.MS_SHARED, ["rshared"] = Libc.MS_SHARED | Libc.MS_REC,
        ["slave"] = Libc.MS_SLAVE, ["rslave"] = Libc.MS_SLAVE | Libc.MS_REC,
        ["unbindable"] = Libc.MS_UNBINDABLE, ["runbindable"] = Libc.MS_UNBINDABLE | Libc.MS_REC,
    };

    /// <summary>Every option string <see cref="Parse"/> understands (for <c>moat features</c>).</summary>
    public static IEnumerable<string> Known => FlagTable.Keys.Concat(PropagationTable.Keys).Append("bind").Append("rbind");

    public static MountOptions Parse(IEnumerable<string>? options)
    {
        ulong flags = 0, clear = 0, propagation = 0;
        bool bind = false, rec = false;
        var data = new List<string>();
        foreach (var o in options ?? [])
        {
            if (o is "bind" or "rbind")
            {
                bind = true;
                rec |= o == "rbind";
            }
            else if (FlagTable.TryGetValue(o, out var f))
            {
                if (f.Clear)
                {
                    flags &= ~f.Flag;
                    clear |= f.Flag;
                }
                else
                {
                    flags |= f.Flag;
                }
            }
            else if (PropagationTable.TryGetValue(o, out var p))
            {
                propagation |= p;
            }
            else
            {
                data.Add(o);
            }
        }
        return new MountOptions(flags, clear, propagation, string.Join(',', data), bind, rec);
    }
}
