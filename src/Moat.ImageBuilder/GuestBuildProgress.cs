namespace Moat.ImageBuilder;

/// <summary>One step of a guest image build: step <paramref name="Index"/> of <paramref name="Count"/> (1-based).</summary>
public sealed record GuestBuildProgress(string Step, int Index, int Count, string? Detail);
