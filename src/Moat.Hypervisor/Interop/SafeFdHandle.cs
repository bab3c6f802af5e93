using System.Runtime.InteropServices;

namespace Moat.Hypervisor.Interop;

/// <summary>An owned POSIX file descriptor; -1 is invalid, 0 is a valid descriptor.</summary>
internal sealed class SafeFdHandle : SafeHandle
{
    public SafeFdHandle()
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
    }

    /// <summary>Takes ownership of <paramref name="fd"/> (a negative value gives an invalid handle).</summary>
    internal SafeFdHandle(int fd)
        : this()
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => (int)handle < 0;

    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
