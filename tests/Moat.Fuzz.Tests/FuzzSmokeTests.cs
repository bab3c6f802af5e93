using System.Diagnostics;

namespace Moat.Fuzz.Tests;

/// <summary>
/// A short in-process run of every fuzz target (seconds, not the real AFL++ runs of fuzz/run.sh):
/// its seed corpus (which keeps the inputs of every crash found and fixed), then a few thousand
/// inputs mutated from it. Any exception other than the target's documented rejections, or an
/// input that runs past the target's timeout, fails the test with the input.
/// </summary>
public sealed class FuzzSmokeTests
{
    private const int MutatedInputs = 2000;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(8);

    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Select(t => t.Name)];

    [Fact]
    public void EveryTargetHasASeedCorpus()
    {
        foreach (var target in FuzzTargets.All)
        {
            Assert.True(Corpus.Load(target.Name).Count > 0, $"fuzz/corpus/{target.Name} has no seeds");
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Corpus_RunsWithoutBugs(string name)
    {
        var target = FuzzTargets.Find(name)!;
        foreach (var (file, input) in Corpus.Load(name))
        {
            RunOne(target, input, file);
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void MutatedInputs_RunWithoutBugs(string name)
    {
        var target = FuzzTargets.Find(name)!;
        var seeds = Corpus.Load(name).Select(s => s.Input).ToArray();
        var mutator = new Mutator(seeds, seed: name.Aggregate(14, (h, c) => (h * 31) + c));
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < MutatedInputs && clock.Elapsed < Budget; i++)
        {
            var input = mutator.Next();
            RunOne(target, input, $"mutation #{i}");
        }
    }

    private static void RunOne(FuzzTarget target, byte[] input, string what)
    {
        try
        {
            try
            {
                target.Run(input);
            }
            catch (FuzzHangException)
            {
                // The stream targets pace the peer's lines against the client's writes with short
                // waits; on a loaded machine one such wait can run out. A parser that really hangs
                // on an input hangs again on the same input: only that fails the test.
                target.Run(input);
            }
        }
        catch (Exception e)
        {
            // Kept for `dotnet fuzz/.../Moat.Fuzz.dll TARGET FILE` and, once fixed, fuzz/corpus/TARGET.
            var file = Path.Combine(Path.GetTempPath(), $"moat-fuzz-{target.Name}-{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(input))[..12]}");
            File.WriteAllBytes(file, input);
            Assert.Fail($"{target.Name}: {what} ({input.Length} bytes, saved as {file}) raised {e}");
        }
    }
}
