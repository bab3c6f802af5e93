using ScottPlot;

namespace Moat.Bench;

/// <summary>The report's PNG charts.</summary>
internal static class Charts
{
    private static readonly Color[] Palette = [Colors.SteelBlue, Colors.DarkOrange, Colors.SeaGreen, Colors.Crimson, Colors.MediumPurple, Colors.SaddleBrown];

    /// <summary>Horizontal bars at the median with a whisker from min to max, one per row.</summary>
    public static void MinMedianMax(string path, string title, string unit, IReadOnlyList<(string Label, Stats Stats)> rows)
    {
        var plt = new Plot();
        var bars = rows.Select((r, i) => new Bar
        {
            Position = rows.Count - 1 - i,
            Value = r.Stats.Median,
            FillColor = Palette[i % Palette.Length],
            Orientation = Orientation.Horizontal,
        }).ToList();
        plt.Add.Bars(bars);
        for (var i = 0; i < rows.Count; i++)
        {
            var y = rows.Count - 1 - i;
            var s = rows[i].Stats;
            Whisker(plt, s.Min, y, s.Max, y);
            Whisker(plt, s.Min, y - 0.15, s.Min, y + 0.15);
            Whisker(plt, s.Max, y - 0.15, s.Max, y + 0.15);
            EndLabel(plt, $" {Format(s.Median)}", s.Max, y);
        }

        RowTicks(plt, rows.Select(r => r.Label).ToList());
        plt.Axes.Margins(left: 0, right: 0.2);
        plt.Title(title);
        plt.XLabel($"{unit} (bar: median; whisker: min to max)");
        plt.SavePng(path, 900, 120 + 45 * rows.Count);
    }

    /// <summary>A waterfall: one floating bar per step, from where it started to where it ended, in order from the top.</summary>
    public static void Waterfall(string path, string title, string unit, IReadOnlyList<(string Label, double Start, double End)> steps)
    {
        var plt = new Plot();
        var bars = steps.Select((s, i) => new Bar
        {
            Position = steps.Count - 1 - i,
            ValueBase = s.Start,
            Value = s.End,
            FillColor = Palette[i % Palette.Length],
            Orientation = Orientation.Horizontal,
        }).ToList();
        plt.Add.Bars(bars);
        for (var i = 0; i < steps.Count; i++)
        {
            EndLabel(plt, $" +{Format(steps[i].End - steps[i].Start)}", steps[i].End, steps.Count - 1 - i);
        }

        RowTicks(plt, steps.Select(s => s.Label).ToList());
        plt.Axes.Margins(left: 0, right: 0.15);
        plt.Title(title);
        plt.XLabel($"{unit} since the start (bar: the step, medians)");
        plt.SavePng(path, 900, 120 + 40 * steps.Count);
    }

    /// <summary>A figure written just right of a horizontal bar's end.</summary>
    private static void EndLabel(Plot plt, string text, double x, double y)
    {
        var label = plt.Add.Text(text, x, y);
        label.LabelFontSize = 11;
        label.LabelAlignment = Alignment.MiddleLeft;
    }

    /// <summary>The rows' names on the left axis, the first at the top.</summary>
    private static void RowTicks(Plot plt, IReadOnlyList<string> labels) =>
        plt.Axes.Left.SetTicks(labels.Select((_, i) => (double)(labels.Count - 1 - i)).ToArray(), labels.ToArray());

    /// <summary>One line per series.</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<(string Name, double[] X, double[] Y)> series)
    {
        var plt = new Plot();
        for (var i = 0; i < series.Count; i++)
        {
            var s = plt.Add.Scatter(series[i].X, series[i].Y);
            s.LegendText = series[i].Name;
            s.Color = Palette[i % Palette.Length];
            s.MarkerSize = 4;
        }

        plt.ShowLegend(Alignment.UpperLeft);
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        plt.SavePng(path, 900, 450);
    }

    /// <summary>Grouped vertical bars: per category, one bar per series.</summary>
    public static void Grouped(string path, string title, string yLabel, IReadOnlyList<string> categories, IReadOnlyList<(string Name, double?[] Values)> series)
    {
        var plt = new Plot();
        var width = 0.8 / series.Count;
        for (var j = 0; j < series.Count; j++)
        {
            var bars = new List<Bar>();
            for (var c = 0; c < categories.Count; c++)
            {
                if (series[j].Values[c] is { } v)
                {
                    bars.Add(new Bar { Position = c - 0.4 + width * (j + 0.5), Value = v, Size = width * 0.9, FillColor = Palette[j % Palette.Length] });
                }
            }

            var plot = plt.Add.Bars(bars);
            plot.LegendText = series[j].Name;
        }

        var one = plt.Add.HorizontalLine(1);
        one.Color = Colors.Black;
        one.LinePattern = LinePattern.Dashed;
        plt.Axes.Bottom.SetTicks(categories.Select((_, i) => (double)i).ToArray(), categories.ToArray());
        plt.Axes.Margins(bottom: 0);
        plt.ShowLegend(Alignment.UpperRight);
        plt.Title(title);
        plt.YLabel(yLabel);
        plt.SavePng(path, 1300, 450);
    }

    public static string Format(double v) => v >= 100 ? v.ToString("F0", System.Globalization.CultureInfo.InvariantCulture) : v.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);

    private static void Whisker(Plot plt, double x1, double y1, double x2, double y2)
    {
        var line = plt.Add.Line(x1, y1, x2, y2);
        line.Color = Colors.Black;
        line.LineWidth = 1.5f;
        line.MarkerSize = 0;
    }
}
