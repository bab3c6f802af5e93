using Moat.Guest;
using Moat.Oci;
using Moat.Runtime;

namespace Moat.Cli;

/// <summary>Typed errors become one line on stderr and an exit code, here and nowhere else.</summary>
internal static class ErrorReporter
{
    public static async Task<int> Guard(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception e) when (e is RuntimeException or OciException or GuestImageException or Moat.Linux.ErrnoException or UnauthorizedAccessException or IOException)
        {
            Console.Error.WriteLine($"moat: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
    }
}
