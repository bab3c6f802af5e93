namespace Moat.Agent;

/// <summary>The agent logs to its stderr, which is the guest console captured by the host.</summary>
internal static class Log
{
    public static bool Debug { get; set; }

    public static void Info(string message) => Console.Error.WriteLine($"moat-agent: {message}");

    public static void Verbose(string message)
    {
        if (Debug)
        {
            Info(message);
        }
    }
}
