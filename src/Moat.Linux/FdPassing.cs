using System.Runtime.InteropServices;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>Sends and receives one file descriptor over a Unix socket (SCM_RIGHTS), as runc's console socket does.</summary>
public static unsafe partial class FdPassing
{
    private const int SOL_SOCKET = 1, SCM_RIGHTS = 1, AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000, MSG_CMSG_CLOEXEC = 0x40000000;

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public void* Base;
        public nuint Len;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name;
        public uint NameLen;
        public IoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recvmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socketpair(int domain, int type, int protocol, int* fds);

    public static (SafeFd A, SafeFd B) SocketPair()
    {
        int* fds = stackalloc int[2];
        ErrnoException.Check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), "socketpair");
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    /// <summary>Sends <paramref name="fd"/> with a short payload (runc sends the pty name).</summary>
    public static void Send(int socket, int fd, ReadOnlySpan<byte> payload)
    {
        var control = stackalloc byte[24]; // CMSG_SPACE(sizeof(int))
        new Span<byte>(control, 24).Clear();
        *(nuint*)control = 20; // CMSG_LEN(sizeof(int))
        *(int*)(control + 8) = SOL_SOCKET;
        *(int*)(control + 12) = SCM_RIGHTS;
        *(int*)(control + 16) = fd;
        var data = payload.IsEmpty ? [0] : payload.ToArray();
        fixed (byte* d = data)
        {
            var iov = new IoVec { Base = d, Len = (nuint)data.Length };
            var msg = new MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = 24 };
            ErrnoException.Check((long)sendmsg(socket, &msg, 0), "sendmsg");
        }
    }

    /// <summary>Receives one fd (O_CLOEXEC) and the payload sent with it.</summary>
    public static (SafeFd Fd, byte[] Payload) Receive(int socket)
    {
        var control = stackalloc byte[64];
        var buffer = new byte[4096];
        fixed (byte* b = buffer)
        {
            var iov = new IoVec { Base = b, Len = (nuint)buffer.Length };
            var msg = new MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = 64 };
            var n = ErrnoException.Check((long)recvmsg(socket, &msg, MSG_CMSG_CLOEXEC), "recvmsg");
            if (msg.ControlLen < 20 || *(int*)(control + 8) != SOL_SOCKET || *(int*)(control + 12) != SCM_RIGHTS)
            {
                throw new IOException("recvmsg: no file descriptor was passed");
            }
            return (new SafeFd(*(int*)(control + 16)), buffer[..(int)n]);
        }
    }
}
