using Moat.Runtime;
using Moat.Shim;

namespace Moat.Shim.Tests;

/// <summary>The shim's log lines as containerd's (logrus text), its levels, and its flood limit.</summary>
public sealed class ShimLogTests
{
    /// <summary>A wall clock and a monotonic one, moved by hand and apart (NTP steps only the wall clock).</summary>
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 5, 10, 0, 0, TimeSpan.Zero);

        public TimeSpan Monotonic { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Monotonic.Ticks;
    }

    private static readonly (string, string)[] Fields = [("runtime", "io.containerd.moat.v2"), ("id", "pod-1"), ("namespace", "k8s.io")];

    [Fact]
    public void ALineIsLogrusTextWithItsFieldsSortedAndValuesQuotedOnlyWhenNeeded()
    {
        var line = LogrusText.Line(new DateTime(2026, 12, 5, 10, 0, 0, 123, DateTimeKind.Utc), "info", "VM started", Fields);
        Assert.Equal("time=\"2026-12-05T10:00:00.123000000Z\" level=info msg=\"VM started\" id=pod-1 namespace=k8s.io runtime=io.containerd.moat.v2", line);
    }

    [Fact]
    public void GuestTextCannotForgeALineOrAField()
    {
        var line = LogrusText.Line(DateTime.UnixEpoch, "debug", "guest console: x\" level=error msg=\"forged\nsecond\u001b[2J", []);
        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain('\u001b', line);
        Assert.EndsWith("msg=\"guest console: x\\\" level=error msg=\\\"forged\\nsecond\\x1b[2J\"", line);
    }

    [Fact]
    public void WhatIsNotPrintableIsEscapedAsGoQuotesIt()
    {
        var line = LogrusText.Line(DateTime.UnixEpoch, "debug", "a\u0085b\u202Ec\u2028d\u00a0e\ud83d\ude00f", [("empty", "")]);
        Assert.EndsWith("msg=\"a\\u0085b\\u202ec\\u2028d\\u00a0e\ud83d\ude00f\" empty=", line);
    }

    [Fact]
    public void DebugLinesAreWrittenOnlyAtDebugLevel()
    {
        var quiet = new StringWriter();
        var log = new ShimLog(quiet, debug: false, Fields);
        log.Debug("phase");
        log.Warn("trouble");
        Assert.Equal(["warning"], quiet.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Level));

        var loud = new StringWriter();
        log = new ShimLog(loud, debug: true, Fields);
        log.Debug("phase");
        log.Error("broken");
        Assert.Equal(["debug", "error"], loud.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Level));
    }

    [Fact]
    public void AFloodIsCutAtTheBudgetAndTheDropsAreToldWhenTheWindowTurns()
    {
        var clock = new ManualClock();
        var output = new StringWriter();
        var log = new ShimLog(output, debug: true, Fields, clock);
        for (var i = 0; i < ShimLog.Budget + 50; i++)
        {
            log.Debug(new string('x', 10_000));
        }
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(ShimLog.Budget, lines.Length);
        Assert.All(lines, l => Assert.True(l.Length < ShimLog.MaxLineChars + 200, "a line is cut"));

        clock.Now -= TimeSpan.FromHours(1); // the wall clock stepped back: the window still turns on time
        clock.Monotonic += ShimLog.Window;
        log.Info("after");
        lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("msg=\"50 log lines dropped in 10 s: more than 200 per window\"", lines[^2]);
        Assert.Contains("msg=after", lines[^1]);
    }

    private static string Level(string line) => line.Split(' ')[1]["level=".Length..];
}
