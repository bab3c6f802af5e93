using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// Configures IPv4 interfaces and routes with the classic ioctls (the guest has no <c>ip</c>
/// tool and needs no netlink for this): address, netmask, MTU, up, and routes through a gateway.
/// </summary>
public static unsafe partial class NetworkConfig
{
    private const int AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0x80000;
    private const ulong SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914, SIOCSIFADDR = 0x8916, SIOCSIFNETMASK = 0x891c,
        SIOCSIFMTU = 0x8922, SIOCADDRT = 0x890B, SIOCSIFHWADDR = 0x8924;
    private const ushort ARPHRD_ETHER = 1;
    private const short IFF_UP = 0x1, IFF_RUNNING = 0x40;
    private const ushort RTF_UP = 0x1, RTF_GATEWAY = 0x2;

    /// <summary>struct ifreq is 40 bytes on x86_64: a 16-byte name and a 24-byte union.</summary>
    public const int IfreqSize = 40;

    /// <summary>struct rtentry is 120 bytes on x86_64.</summary>
    public const int RtentrySize = 120;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    /// <summary>The interface whose MAC address is <paramref name="mac"/> ("52:54:00:..."), from sysfs.</summary>
    public static string? FindByMac(string mac)
    {
        foreach (var dir in Directory.EnumerateDirectories("/sys/class/net"))
        {
            var address = Path.Combine(dir, "address");
            if (File.Exists(address) && string.Equals(File.ReadAllText(address).Trim(), mac, StringComparison.OrdinalIgnoreCase))
            {
                return Path.GetFileName(dir);
            }
        }
        return null;
    }

    public static void Up(string name)
    {
        using var s = Socket();
        var req = stackalloc byte[IfreqSize];
        WriteName(new Span<byte>(req, IfreqSize), name);
        ErrnoException.Check(Libc.ioctl(s.Fd, SIOCGIFFLAGS, req), "SIOCGIFFLAGS", name);
        *(short*)(req + 16) |= IFF_UP | IFF_RUNNING;
        ErrnoException.Check(Libc.ioctl(s.Fd, SIOCSIFFLAGS, req), "SIOCSIFFLAGS", name);
    }

    /// <summary>Gives the interface the Ethernet address <paramref name="mac"/> ("02:00:..."); virtio-net tells QEMU too.</summary>
    public static void SetMac(string name, string mac)
    {
        var bytes = mac.Split(':').Select(b => Convert.ToByte(b, 16)).ToArray();
        if (bytes.Length != 6)
        {
            throw new ArgumentException($"'{mac}' is not a MAC address of six bytes", nameof(mac));
        }
        using var s = Socket();
        var req = stackalloc byte[IfreqSize];
        WriteName(new Span<byte>(req, IfreqSize), name);
        *(ushort*)(req + 16) = ARPHRD_ETHER; // struct sockaddr: family, then the address
        bytes.CopyTo(new Span<byte>(req + 18, 6));
        ErrnoException.Check(Libc.ioctl(s.Fd, SIOCSIFHWADDR, req), "SIOCSIFHWADDR", $"{name} {mac}");
    }

    public static void SetMtu(string name, int mtu)
    {
        using var s = Socket();
        var req = stackalloc byte[IfreqSize];
        WriteName(new Span<byte>(req, IfreqSize), name);
        *(int*)(req + 16) = mtu;
        ErrnoException.Check(Libc.ioctl(s.Fd, SIOCSIFMTU, req), "SIOCSIFMTU", name);
    }

    /// <summary>Sets the interface's IPv4 address and prefix; the kernel adds the on-link route.</summary>
    public static void SetAddress(string name, IPAddress address, int prefixLength)
    {
        using var s = Socket();
        var req = new byte[IfreqSize];
        IfreqWithAddress(req, name, address);
        fixed (byte* p = req)
        {
            ErrnoException.Check(Libc.ioctl(s.Fd, SIOCSIFADDR, p), "SIOCSIFADDR", $"{name} {address}");
        }
        IfreqWithAddress(req, name, Netmask(prefixLength));
        fixed (byte* p = req)
        {
            ErrnoException.Check(Libc.ioctl(s.Fd, SIOCSIFNETMASK, p), "SIOCSIFNETMASK", $"{name} /{prefixLength}");
        }
    }

    /// <summary>Adds a route to <paramref name="destination"/>/<paramref name="prefixLength"/> through <paramref name="gateway"/> (0.0.0.0/0 is the default route).</summary>
    public static void AddRoute(IPAddress destination, int prefixLength, IPAddress gateway, string? device)
    {
        using var s = Socket();
        var rt = Rtentry(destination, prefixLength, gateway);
        var dev = device is null ? 0 : Marshal.StringToCoTaskMemUTF8(device);
        try
        {
            fixed (byte* p = rt)
            {
                *(nint*)(p + 88) = dev;
                ErrnoException.Check(Libc.ioctl(s.Fd, SIOCADDRT, p), "SIOCADDRT", $"{destination}/{prefixLength} via {gateway}");
            }
        }
        finally
        {
            if (dev != 0)
            {
                Marshal.FreeCoTaskMem(dev);
            }
        }
    }

    /// <summary>The route entry (device pointer left 0), exposed for layout tests.</summary>
    public static byte[] Rtentry(IPAddress destination, int prefixLength, IPAddress gateway)
    {
        var rt = new byte[RtentrySize];
        WriteSockaddrIn(rt.AsSpan(8, 16), destination);
        WriteSockaddrIn(rt.AsSpan(24, 16), gateway);
        WriteSockaddrIn(rt.AsSpan(40, 16), Netmask(prefixLength));
        var flags = RTF_UP;
        if (!gateway.Equals(IPAddress.Any))
        {
            flags |= RTF_GATEWAY;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(rt.AsSpan(56), flags);
        return rt;
    }

    /// <summary>An ifreq naming <paramref name="name"/> with a sockaddr_in, exposed for layout tests.</summary>
    public static void IfreqWithAddress(byte[] req, string name, IPAddress address)
    {
        Array.Clear(req);
        WriteName(req, name);
        WriteSockaddrIn(req.AsSpan(16, 16), address);
    }

    public static IPAddress Netmask(int prefixLength)
    {
        if (prefixLength is < 0 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(prefixLength), prefixLength, "an IPv4 prefix length is 0 to 32");
        }
        var mask = prefixLength == 0 ? 0u : uint.MaxValue << (32 - prefixLength);
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, mask);
        return new IPAddress(bytes);
    }

    private static void WriteName(Span<byte> req, string name)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(name);
        if (bytes.Length > 15)
        {
            throw new ArgumentException($"interface name {name} is longer than 15 characters", nameof(name));
        }
        bytes.CopyTo(req);
    }

    private static void WriteSockaddrIn(Span<byte> dest, IPAddress address)
    {
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"{address} is not an IPv4 address", nameof(address));
        }
        BinaryPrimitives.WriteUInt16LittleEndian(dest, AF_INET);
        address.GetAddressBytes().CopyTo(dest[4..]);
    }

    private static SafeFd Socket() =>
        new(ErrnoException.Check(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket(AF_INET)"));
}
