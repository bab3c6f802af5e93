using Moat.Runtime;

namespace Moat.Shim;

/// <summary>
/// The shim's log, in containerd's format (<see cref="LogrusText"/>) on the FIFO containerd reads
/// into its own log: a level per line, the sandbox's id, namespace and runtime on each. Debug lines
/// (phase timings, the guest console) only when containerd runs at debug level (<c>-debug</c>).
/// It never floods containerd's log: messages are cut at <see cref="MaxLineChars"/>, and past
/// <see cref="Budget"/> lines in a <see cref="Window"/> the rest are dropped and counted, the
/// count told with the first line after the window turns (monotonic time).
/// </summary>
internal sealed class ShimLog(TextWriter? writer, bool debug, IReadOnlyList<(string Key, string Value)> fields, TimeProvider? clock = null)
{
    public const int MaxLineChars = 2048;
    public const int Budget = 200;
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private long _windowStart;
    private bool _started;
    private int _written;
    private int _dropped;

    public bool DebugEnabled => debug;

    public void Debug(string message)
    {
        if (debug)
        {
            Write("debug", message);
        }
    }

    public void Info(string message) => Write("info", message);

    public void Warn(string message) => Write("warning", message);

    public void Error(string message) => Write("error", message);

    private void Write(string level, string message)
    {
        if (writer is null)
        {
            return;
        }
        lock (_lock)
        {
            // The window runs on the monotonic clock: a wall clock stepped back cannot hold it shut.
            var now = _clock.GetUtcNow();
            if (!_started || _clock.GetElapsedTime(_windowStart) >= Window)
            {
                if (_dropped > 0)
                {
                    Emit(now, "warning", $"{_dropped} log lines dropped in {Window.TotalSeconds:0} s: more than {Budget} per window");
                }
                (_windowStart, _started, _written, _dropped) = (_clock.GetTimestamp(), true, 0, 0);
            }
            if (_written >= Budget)
            {
                _dropped++;
                return;
            }
            _written++;
            Emit(now, level, Cut(message));
        }
    }

    /// <summary>At most <see cref="MaxLineChars"/> characters of the message (escaping may lengthen them), never half a surrogate pair.</summary>
    private static string Cut(string message)
    {
        if (message.Length <= MaxLineChars)
        {
            return message;
        }
        var end = char.IsHighSurrogate(message[MaxLineChars - 1]) ? MaxLineChars - 1 : MaxLineChars;
        return message[..end] + "…";
    }

    private void Emit(DateTimeOffset now, string level, string message)
    {
        try
        {
            writer!.WriteLine(LogrusText.Line(now.UtcDateTime, level, message, fields));
        }
        catch (IOException)
        {
            // containerd stopped reading: the shim goes on without its log
        }
    }
}
