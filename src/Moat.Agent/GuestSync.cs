using System.Runtime.InteropServices;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Agent;

/// <summary>
/// Brings a guest in line with its host when a sandbox is created: the wall clock, and the kernel's
/// random number generator. A VM restored from a template wakes up with the template's clock and
/// with the same generator state as every other clone of it.
/// </summary>
internal static unsafe class GuestSync
{
    public static void SetClock(long unixNanos)
    {
        if (unixNanos <= 0)
        {
            return;
        }
        var ts = new Libc.Timespec { Seconds = unixNanos / 1_000_000_000, Nanoseconds = unixNanos % 1_000_000_000 };
        ErrnoException.Check(Libc.clock_settime(Libc.CLOCK_REALTIME, &ts), "clock_settime", "CLOCK_REALTIME");
    }

    /// <summary>Mixes the host's bytes into the input pool, credited as entropy, then reseeds the generator from it.</summary>
    public static void Reseed(ReadOnlySpan<byte> entropy)
    {
        if (entropy.Length < 32)
        {
            throw new ArgumentException($"at least 32 bytes of entropy are needed to reseed (got {entropy.Length})", nameof(entropy));
        }
        var fd = ErrnoException.Check(Libc.open("/dev/urandom", Libc.O_WRONLY | Libc.O_CLOEXEC, 0), "open", "/dev/urandom");
        try
        {
            // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
            var size = 8 + entropy.Length;
            var info = (byte*)NativeMemory.AllocZeroed((nuint)size);
            try
            {
                ((int*)info)[0] = entropy.Length * 8;
                ((int*)info)[1] = entropy.Length;
                entropy.CopyTo(new Span<byte>(info + 8, entropy.Length));
                ErrnoException.Check(Libc.ioctl(fd, Libc.RNDADDENTROPY, info), "ioctl(RNDADDENTROPY)", "/dev/urandom");
                new Span<byte>(info, size).Clear();
            }
            finally
            {
                NativeMemory.Free(info);
            }
            ErrnoException.Check(Libc.ioctl(fd, Libc.RNDRESEEDCRNG, 0), "ioctl(RNDRESEEDCRNG)", "/dev/urandom");
        }
        finally
        {
            Libc.close(fd);
        }
    }
}
