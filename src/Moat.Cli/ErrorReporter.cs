using System.Text.Json.Nodes;
using Moat.ImageBuilder;
using Moat.Oci;
using Moat.Runtime;

namespace Moat.Cli;

/// <summary>
/// Typed errors become one line on stderr and an exit code, here and nowhere else. With
/// <c>--log FILE --log-format json</c> (as containerd's runc shim runs us) the line also goes
/// to the log as {"level":"error","msg":...}, where that shim looks for the reason.
/// </summary>
internal static class ErrorReporter
{
    private static string? _log;
    private static bool _json;

    public static void Configure(string? log, string? format)
    {
        _log = string.IsNullOrEmpty(log) ? null : log;
        _json = format == "json";
    }

    public static async Task<int> Guard(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (RuntimeException e) when (e.ExitStatus is { } status)
        {
            Fail(e.Message);
            return status;
        }
        catch (Exception e) when (e is RuntimeException or OciException or ContainerStateException or GuestImageException or Moat.Linux.ErrnoException
            or UnauthorizedAccessException or IOException or Moat.Ttrpc.TtrpcException)
        {
            return Fail(e.Message);
        }
        catch (OperationCanceledException)
        {
            Fail("cancelled");
            return 130;
        }
        catch (Exception e)
        {
            // A bug, not a user error: still one line, with the type to report it by.
            var code = Fail($"internal error: {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("MOAT_TRACE") == "1")
            {
                Console.Error.WriteLine(e);
            }
            return code;
        }
    }

    /// <summary>Reports <paramref name="message"/> as an error; returns the exit status (1).</summary>
    public static int Fail(string message)
    {
        Write("error", message);
        return 1;
    }

    public static void Warn(string message) => Write("warning", message);

    private static void Write(string level, string message)
    {
        var line = message.ReplaceLineEndings(" ");
        Console.Error.WriteLine(level == "error" ? $"moat: {line}" : $"moat: {level}: {line}");
        if (_log is null)
        {
            return;
        }
        try
        {
            File.AppendAllText(_log, (_json
                ? new JsonObject { ["level"] = level, ["msg"] = line, ["time"] = DateTime.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture) }.ToJsonString()
                : LogrusText.Line(DateTime.UtcNow, level, line, [])) + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // the log is a convenience; the error already went to stderr
        }
    }
}
