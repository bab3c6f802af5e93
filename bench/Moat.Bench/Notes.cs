namespace Moat.Bench;

/// <summary>notes.txt beside samples.csv: what a benchmark skipped or where it stopped, and why.</summary>
internal static class Notes
{
    public static void Add(Args args, string line)
    {
        Console.WriteLine($"  note: {line}");
        File.AppendAllText(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(args.Get("samples")))!, "notes.txt"), line.ReplaceLineEndings(" ") + "\n");
    }
}
