using System.Globalization;
using System.Text;
using Moat.Runtime.Metrics;

namespace Moat.Cli.Monitor;

/// <summary>
/// Prometheus' text exposition format (version 0.0.4), written directly: each family's HELP and
/// TYPE, then its samples; label values escaped; histograms as cumulative <c>_bucket</c>s with
/// <c>le</c>, <c>_sum</c> and <c>_count</c>. Every value comes from a scrape-time snapshot, so
/// there is no registry to keep in step with sandboxes that come and go.
/// </summary>
internal sealed class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _out = new();

    public override string ToString() => _out.ToString();

    /// <summary>Starts a family: every sample of <paramref name="name"/> must follow before the next one starts.</summary>
    public void Family(string name, string type, string help) =>
        _out.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal))
            .Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    public void Sample(string name, IReadOnlyList<(string Name, string Value)> labels, double value)
    {
        _out.Append(name);
        AppendLabels(labels);
        _out.Append(' ').Append(Number(value)).Append('\n');
    }

    public void Histogram(string name, IReadOnlyList<(string Name, string Value)> labels, HistogramSnapshot h)
    {
        ulong cumulative = 0;
        for (var i = 0; i < h.Bounds.Count; i++)
        {
            cumulative += i < h.BucketCounts.Count ? h.BucketCounts[i] : 0;
            Sample(name + "_bucket", [.. labels, ("le", Number(h.Bounds[i]))], cumulative);
        }
        // What a hostile or mismatched snapshot claims cannot make the +Inf bucket smaller than the others.
        Sample(name + "_bucket", [.. labels, ("le", "+Inf")], Math.Max(cumulative, h.Count));
        Sample(name + "_sum", labels, h.SumSeconds);
        Sample(name + "_count", labels, Math.Max(cumulative, h.Count));
    }

    private void AppendLabels(IReadOnlyList<(string Name, string Value)> labels)
    {
        if (labels.Count == 0)
        {
            return;
        }
        _out.Append('{');
        for (var i = 0; i < labels.Count; i++)
        {
            if (i > 0)
            {
                _out.Append(',');
            }
            _out.Append(labels[i].Name).Append("=\"");
            foreach (var c in labels[i].Value)
            {
                _ = c switch
                {
                    '\\' => _out.Append("\\\\"),
                    '"' => _out.Append("\\\""),
                    '\n' => _out.Append("\\n"),
                    _ => _out.Append(c),
                };
            }
            _out.Append('"');
        }
        _out.Append('}');
    }

    public static string Number(double v) =>
        double.IsNaN(v) ? "NaN"
        : double.IsPositiveInfinity(v) ? "+Inf"
        : double.IsNegativeInfinity(v) ? "-Inf"
        : v.ToString("R", CultureInfo.InvariantCulture);
}
