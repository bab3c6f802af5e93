namespace Moat.Bench;

/// <summary>Min, median and max of the samples of one figure.</summary>
internal sealed record Stats(int Count, double Min, double Median, double Max)
{
    public static Stats Of(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0)
        {
            throw new ArgumentException("no samples", nameof(values));
        }

        var median = v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
        return new Stats(v.Length, v[0], median, v[^1]);
    }
}
