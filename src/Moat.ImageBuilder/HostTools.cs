namespace Moat.ImageBuilder;

/// <summary>Runs the host tools the builder needs and turns their failures into one-line <see cref="GuestImageException"/>s.</summary>
internal static class HostTools
{
    /// <summary>Debian package that ships each tool the builder calls.</summary>
    private static readonly Dictionary<string, string> Packages = new(StringComparer.Ordinal)
    {
        ["xz"] = "xz-utils",
        ["depmod"] = "kmod",
        ["dpkg-deb"] = "dpkg",
        ["ldd"] = "libc-bin",
        ["apt-get"] = "apt",
        ["apt-cache"] = "apt",
    };

    /// <summary>Runs a command; throws when the program is missing (naming its Debian package).</summary>
    public static async Task<CommandResult> RunAsync(ICommandRunner runner, string file, IReadOnlyList<string> args, string? workingDirectory, CancellationToken ct)
    {
        try
        {
            return await runner.RunAsync(file, args, workingDirectory, ct).ConfigureAwait(false);
        }
        catch (FileNotFoundException e)
        {
            var package = Packages.GetValueOrDefault(Path.GetFileName(file));
            throw new GuestImageException(
                package is null
                    ? $"'{file}' not found: install it and try again"
                    : $"'{file}' not found: install it with 'apt-get install {package}'",
                e);
        }
    }

    /// <summary>Runs a command and throws unless it exits 0; <paramref name="advice"/> says what to do about a failure.</summary>
    public static async Task<CommandResult> RunCheckedAsync(ICommandRunner runner, string file, IReadOnlyList<string> args, string? workingDirectory, string advice, CancellationToken ct)
    {
        var result = await RunAsync(runner, file, args, workingDirectory, ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw Failure(file, args, result, advice);
        }

        return result;
    }

    public static GuestImageException Failure(string file, IReadOnlyList<string> args, CommandResult result, string advice)
    {
        var command = string.Join(' ', args.Prepend(file));
        var last = LastLine(result.StandardError) ?? LastLine(result.StandardOutput) ?? "no output";
        return new GuestImageException($"{command} failed (exit {result.ExitCode}): {last} — {advice}");
    }

    private static string? LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
}
