namespace Moat.Fuzz.Tests;

/// <summary>The seed corpus of a target: fuzz/corpus/TARGET in the repository.</summary>
internal static class Corpus
{
    public static IReadOnlyList<(string File, byte[] Input)> Load(string target)
    {
        var dir = Path.Combine(RepoRoot(), "fuzz", "corpus", target);
        return [.. Directory.GetFiles(dir).Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f)))];
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Moat.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no Moat.slnx above {AppContext.BaseDirectory}");
    }
}
