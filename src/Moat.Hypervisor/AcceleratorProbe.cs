using System.Globalization;
using System.Runtime.InteropServices;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Hypervisor;

/// <summary>Decides between KVM and TCG for this host.</summary>
public static class AcceleratorProbe
{
    /// <summary>The only stable KVM API version.</summary>
    public const int ExpectedKvmApiVersion = 12;

    internal const ulong KVM_GET_API_VERSION = 0xAE00;
    internal const ulong KVM_CREATE_VM = 0xAE01;

    /// <summary>
    /// Opens <paramref name="devKvm"/>, checks KVM_GET_API_VERSION == 12 and that KVM_CREATE_VM succeeds
    /// (the VM is closed at once). Any failure yields <see cref="Accel.Tcg"/> with the reason; never throws
    /// for host conditions.
    /// </summary>
    public static AccelProbeResult Probe(string devKvm = "/dev/kvm")
    {
        ArgumentException.ThrowIfNullOrEmpty(devKvm);
        if (!OperatingSystem.IsLinux())
        {
            return new AccelProbeResult(Accel.Tcg, $"{devKvm}: KVM requires Linux", null);
        }

        try
        {
            return ProbeLinux(devKvm);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return new AccelProbeResult(Accel.Tcg, $"{devKvm}: cannot call libc: {ex.Message}", null);
        }
    }

    /// <summary>
    /// The host TSC frequency in kHz, from the first CPU's "cpu MHz" in /proc/cpuinfo, when its flags include
    /// constant_tsc (so the TSC ticks at a fixed rate); otherwise null. On hosts with frequency scaling the
    /// reported MHz is approximate: use for <c>tsc_early_khz</c>, not for timekeeping.
    /// </summary>
    public static long? HostTscKhz()
    {
        try
        {
            using var reader = new StreamReader("/proc/cpuinfo");
            return ParseTscKhz(reader);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    internal static long? ParseTscKhz(TextReader cpuinfo)
    {
        double? mhz = null;
        bool constantTsc = false;
        while (cpuinfo.ReadLine() is { } line)
        {
            if (line.Trim().Length == 0)
            {
                if (mhz is not null || constantTsc)
                {
                    break; // end of the first processor block
                }

                continue;
            }

            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }

            string key = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (key == "cpu MHz"
                && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed)
                && parsed > 0)
            {
                mhz = parsed;
            }
            else if (key == "flags")
            {
                constantTsc = value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("constant_tsc");
            }
        }

        return constantTsc && mhz is { } m ? (long)Math.Round(m * 1000.0) : null;
    }

    private static AccelProbeResult ProbeLinux(string devKvm)
    {
        int fd = RetryOnEintr(() => Libc.open(devKvm, Libc.O_RDWR | Libc.O_CLOEXEC, 0), out int openErrno);
        if (fd < 0)
        {
            return Tcg($"{devKvm}: {Marshal.GetPInvokeErrorMessage(openErrno)}");
        }

        using var kvm = new SafeFd(fd);

        int version = RetryOnEintr(() => Libc.ioctl(kvm.Fd, KVM_GET_API_VERSION, 0), out int versionErrno);
        if (version < 0)
        {
            return Tcg($"{devKvm}: KVM_GET_API_VERSION failed: {Marshal.GetPInvokeErrorMessage(versionErrno)}");
        }

        if (version != ExpectedKvmApiVersion)
        {
            return new AccelProbeResult(Accel.Tcg,
                $"{devKvm}: unsupported KVM API version {version} (expected {ExpectedKvmApiVersion})", version);
        }

        int vmFd = RetryOnEintr(() => Libc.ioctl(kvm.Fd, KVM_CREATE_VM, 0), out int createErrno);
        if (vmFd < 0)
        {
            return new AccelProbeResult(Accel.Tcg,
                $"{devKvm}: KVM_CREATE_VM failed: {Marshal.GetPInvokeErrorMessage(createErrno)}", version);
        }

        using (new SafeFd(vmFd))
        {
            return new AccelProbeResult(Accel.Kvm, $"{devKvm}: KVM API version {version}, VM creation works", version);
        }
    }

    private static AccelProbeResult Tcg(string reason) => new(Accel.Tcg, reason, null);

    /// <summary>Runs a libc call returning -1 on error, retrying on EINTR; <paramref name="errno"/> is set when it failed.</summary>
    private static int RetryOnEintr(Func<int> call, out int errno)
    {
        while (true)
        {
            int result = call();
            errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (errno != Libc.EINTR)
            {
                return result;
            }
        }
    }
}
