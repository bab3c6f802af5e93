using System.Diagnostics;

namespace Moat.Integration.Tests;

public sealed record CmdResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Runs real programs (the installed moat, shell tools) and captures what they print.</summary>
public static class Cmd
{
    public static string Moat => Environment.GetEnvironmentVariable("MOAT_BIN") ?? "/usr/local/bin/moat";

    public static Process Start(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, bool redirectStdin = true)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        return Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
    }

    public static async Task<CmdResult> RunAsync(string file, IEnumerable<string> args, string? stdin = null,
        IDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        using var p = Start(file, args, env);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
        }
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time");
        }
        return new CmdResult(p.ExitCode, await stdout, await stderr);
    }
}
