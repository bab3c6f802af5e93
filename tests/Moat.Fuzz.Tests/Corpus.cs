namespace Moat.Fuzz.Tests;

/// <summary>The seed corpus of a target: fuzz/corpus/TARGET in the repository.</summary>
internal static class Corpus
{
    public static IReadOnlyList<(string File, byte[] Input)> Load(string target)
    {
        var dir = Path.Combine(Moat.Tests.Shared.TestHost.RepoRoot, "fuzz", "corpus", target);
        return [.. Directory.GetFiles(dir).Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f)))];
    }
}
