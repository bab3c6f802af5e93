namespace Moat.Ttrpc;

/// <summary>Conversions between <see cref="TimeSpan"/> and the wire's <c>timeout_nano</c>.</summary>
internal static class Timeouts
{
    /// <summary>Longest delay a <see cref="CancellationTokenSource"/> timer accepts.</summary>
    public static readonly TimeSpan MaxTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    public static long ToNanoseconds(TimeSpan timeout) =>
        timeout.Ticks >= long.MaxValue / TimeSpan.NanosecondsPerTick
            ? long.MaxValue
            : timeout.Ticks * TimeSpan.NanosecondsPerTick;

    public static TimeSpan FromNanoseconds(long nanoseconds) =>
        TimeSpan.FromTicks(Math.Max(1, nanoseconds / TimeSpan.NanosecondsPerTick));
}
