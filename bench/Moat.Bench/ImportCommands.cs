using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Moat.Bench;

/// <summary>Turns other tools' output into samples: hyperfine's JSON, `moat --debug run` phases.</summary>
internal static partial class ImportCommands
{
    /// <summary>hyperfine: every timed run of every command of FILE, as GROUP / command name / ms.</summary>
    public static int Hyperfine(Args args)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(args.Get("file")));
        var group = args.Get("group");
        SampleFile.Append(args.Get("samples"), doc.RootElement.GetProperty("results").EnumerateArray().SelectMany(r =>
            r.GetProperty("times").EnumerateArray().Select(t =>
                new Sample(group, r.GetProperty("command").GetString()!, "time", "ms", 0, t.GetDouble() * 1000))));
        return 0;
    }

    /// <summary>phases: the "moat: N ms PHASE" lines of `moat --debug run` stderr files.</summary>
    public static int Phases(Args args)
    {
        var samples = new List<Sample>();
        foreach (var file in args.Command)
        {
            var order = 0;
            foreach (Match m in PhaseLine().Matches(File.ReadAllText(file)))
            {
                samples.Add(new Sample("profile", m.Groups[2].Value.Trim(), "since moat started", "ms", order++, double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));
            }
        }

        SampleFile.Append(args.Get("samples"), samples);
        return 0;
    }

    [GeneratedRegex(@"^moat:\s+([0-9.]+) ms\s+([^(\n]+)", RegexOptions.Multiline)]
    private static partial Regex PhaseLine();
}
