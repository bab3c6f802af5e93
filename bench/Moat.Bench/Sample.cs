using System.Globalization;
using System.Text;

namespace Moat.Bench;

/// <summary>One measured value. X is the position on a series (pods running) or 0.</summary>
internal sealed record Sample(string Group, string Case, string Metric, string Unit, double X, double Value);

/// <summary>samples.csv: every raw figure of a run, one per line, appended by each benchmark.</summary>
internal static class SampleFile
{
    private const string Header = "group,case,metric,unit,x,value";

    public static void Append(string path, IEnumerable<Sample> samples)
    {
        var sb = new StringBuilder();
        if (!File.Exists(path))
        {
            sb.AppendLine(Header);
        }

        foreach (var s in samples)
        {
            sb.AppendLine(string.Join(',', Quote(s.Group), Quote(s.Case), Quote(s.Metric), Quote(s.Unit),
                s.X.ToString("R", CultureInfo.InvariantCulture), s.Value.ToString("R", CultureInfo.InvariantCulture)));
        }

        File.AppendAllText(path, sb.ToString());
    }

    public static void Append(string path, Sample sample) => Append(path, [sample]);

    public static List<Sample> Read(string path) =>
        File.ReadLines(path).Skip(1).Where(l => l.Length > 0).Select(l =>
        {
            var f = Split(l);
            return new Sample(f[0], f[1], f[2], f[3], double.Parse(f[4], CultureInfo.InvariantCulture), double.Parse(f[5], CultureInfo.InvariantCulture));
        }).ToList();

    private static string Quote(string s) =>
        s.AsSpan().IndexOfAny(",\"\n") >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    private static List<string> Split(string line)
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    sb.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    sb.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(sb.ToString());
                sb.Clear();
            }
            else
            {
                sb.Append(c);
            }
        }

        fields.Add(sb.ToString());
        return fields;
    }
}
