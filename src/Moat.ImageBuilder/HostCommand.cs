namespace Moat.ImageBuilder;

/// <summary>Runs a host program to its end and takes its output (LC_ALL=C); cancelling kills it and its children.</summary>
public static class HostCommand
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, IReadOnlyList<string> args, CancellationToken ct)
    {
        var r = await ProcessCommandRunner.Instance.RunAsync(file, args, null, ct).ConfigureAwait(false);
        return (r.ExitCode, r.StandardOutput, r.StandardError);
    }
}
