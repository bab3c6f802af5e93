using System.Runtime.InteropServices;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// Bytes from the kernel's generator (getrandom). Not RandomNumberGenerator: on Linux it loads
/// libcrypto and libssl, 3.5 MiB more resident memory in every process that calls it once
/// (measured in the shim daemon).
/// </summary>
public static class KernelRandom
{
    public static unsafe void Fill(Span<byte> bytes)
    {
        fixed (byte* p = bytes)
        {
            var done = 0;
            while (done < bytes.Length)
            {
                var n = Libc.getrandom(p + done, (nuint)(bytes.Length - done), 0);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }
                    throw new ErrnoException("getrandom", errno);
                }
                done += (int)n;
            }
        }
    }

    public static byte[] Bytes(int count)
    {
        var b = new byte[count];
        Fill(b);
        return b;
    }
}
