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
        catch (Exception e) when (e is RuntimeException or OciException or GuestImageException or Moat.Linux.ErrnoException
            or UnauthorizedAccessException or IOException or Moat.Ttrpc.TtrpcException)
        {
            Console.Error.WriteLine($"moat: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("moat: cancelled");
            return 130;
        }
        catch (Exception e)
        {
            // A bug, not a user error: still one line, with the type to report it by.
            Console.Error.WriteLine($"moat: internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            if (Environment.GetEnvironmentVariable("MOAT_TRACE") == "1")
            {
                Console.Error.WriteLine(e);
            }
            return 1;
        }
    }
}
