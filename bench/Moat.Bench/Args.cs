namespace Moat.Bench;

/// <summary>"--name value" options, then "--" and a command line.</summary>
internal sealed class Args
{
    private readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);

    public Args(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--")
            {
                Command = args.Skip(i + 1).ToArray();
                return;
            }

            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count)
            {
                throw new BenchException($"unexpected argument {args[i]}: options are --name value");
            }

            _options[args[i][2..]] = args[++i];
        }
    }

    public IReadOnlyList<string> Command { get; } = [];

    public string Get(string name) =>
        _options.TryGetValue(name, out var v) ? v : throw new BenchException($"--{name} is required");

    public bool Has(string name) => _options.ContainsKey(name);

    public string Get(string name, string fallback) => _options.GetValueOrDefault(name, fallback);

    public int Int(string name, int fallback) =>
        _options.TryGetValue(name, out var v) ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

internal sealed class BenchException(string message) : Exception(message);
