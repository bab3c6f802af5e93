namespace Moat.ImageBuilder;

/// <summary>Result of an external command.</summary>
internal sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs external commands (apt, dpkg-deb, xz, depmod, ldd); faked in tests.</summary>
internal interface ICommandRunner
{
    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/> and waits for it.
    /// Throws <see cref="FileNotFoundException"/> when the program does not exist.
    /// </summary>
    Task<CommandResult> RunAsync(string file, IReadOnlyList<string> args, string? workingDirectory, CancellationToken ct);
}
