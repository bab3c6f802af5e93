using System.Diagnostics;

namespace Moat.Runtime;

/// <summary>With --debug, each phase of a run is logged to stderr with the time since start.</summary>
public sealed class PhaseLog
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Action<string>? _sink;

    public PhaseLog(Action<string>? sink) => _sink = sink;

    public bool Enabled => _sink is not null;

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Phase(string what) => _sink?.Invoke($"moat: {_clock.Elapsed.TotalMilliseconds,8:F1} ms  {what}");
}
