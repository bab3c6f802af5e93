namespace Moat.ImageBuilder.Tests;

/// <summary>
/// An <see cref="ICommandRunner"/> whose handlers answer for chosen programs; everything else goes to
/// <c>fallback</c> (the real runner) or fails. Records every call as "file arg1 arg2...".
/// </summary>
internal sealed class FakeRunner(ICommandRunner? fallback = null) : ICommandRunner
{
    private readonly Dictionary<string, Func<IReadOnlyList<string>, string?, CommandResult>> _handlers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _missing = new(StringComparer.Ordinal);

    public List<string> Calls { get; } = [];

    public FakeRunner On(string file, Func<IReadOnlyList<string>, string?, CommandResult> handler)
    {
        _handlers[file] = handler;
        return this;
    }

    public FakeRunner Missing(string file)
    {
        _missing.Add(file);
        return this;
    }

    public int Count(string prefix) => Calls.Count(c => c.StartsWith(prefix, StringComparison.Ordinal));

    public Task<CommandResult> RunAsync(string file, IReadOnlyList<string> args, string? workingDirectory, CancellationToken ct)
    {
        lock (Calls)
        {
            Calls.Add(string.Join(' ', args.Prepend(file)));
        }

        if (_missing.Contains(file))
        {
            throw new FileNotFoundException($"program '{file}' not found", file);
        }

        if (_handlers.TryGetValue(file, out var handler))
        {
            return Task.FromResult(handler(args, workingDirectory));
        }

        return fallback?.RunAsync(file, args, workingDirectory, ct)
            ?? Task.FromResult(new CommandResult(127, string.Empty, $"FakeRunner: no handler for {file}"));
    }
}
