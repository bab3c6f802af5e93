using System.Runtime.InteropServices;

namespace Moat.Guest;

internal static partial class NativeMethods
{
    /// <summary>rename(2): atomically replaces <paramref name="newPath"/>, also when both are symlinks to directories (File.Move refuses those).</summary>
    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Rename(string oldPath, string newPath);
}
