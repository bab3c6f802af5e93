namespace Moat.Runtime.Core;

/// <summary>
/// Publishes TaskOOM for each OOM kill a sandbox's agent reports, until the sandbox goes away.
/// What the agent says is not trusted (the guest may be hostile): only an id <c>isOurs</c> accepts
/// is published, at most <see cref="EventsPerSecond"/> a second; an answer naming anything else,
/// or an error, backs off (doubling up to <see cref="MaxBackoff"/>) instead of asking again at
/// once; what the guest named reaches the log escaped, shortened, and only the first few times.
/// </summary>
internal sealed class OomForwarder(
    Func<CancellationToken, Task<string>> nextOomKill,
    Func<string, bool> isOurs,
    Action<string> publish,
    Action<string> log,
    Task sandboxGone,
    Func<TimeSpan, Task>? delay = null)
{
    public const int EventsPerSecond = 100;
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);
    private const int LoggedRefusals = 3;

    private readonly Func<TimeSpan, Task> _delay = delay ?? (t => Task.WhenAny(sandboxGone, Task.Delay(t)));

    public async Task RunAsync()
    {
        var backoff = TimeSpan.Zero;
        var spacing = TimeSpan.FromSeconds(1.0 / EventsPerSecond);
        var refused = 0;
        while (!sandboxGone.IsCompleted)
        {
            try
            {
                var id = await nextOomKill(CancellationToken.None).ConfigureAwait(false);
                if (isOurs(id))
                {
                    publish(id);
                    backoff = TimeSpan.Zero;
                    await _delay(spacing).ConfigureAwait(false);
                    continue;
                }
                if (refused++ < LoggedRefusals)
                {
                    log($"the agent reported an OOM kill of an unknown container {GuestText.OneLine(id, 80)}: ignored");
                }
            }
            catch (Exception e) when (e is AgentException or ObjectDisposedException or InvalidOperationException)
            {
                if (sandboxGone.IsCompleted || e is ObjectDisposedException or InvalidOperationException || e is AgentException { Kind: RuntimeErrorKind.GuestFailure })
                {
                    return; // the sandbox was torn down
                }
            }
            backoff = backoff == TimeSpan.Zero ? FirstBackoff : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            await _delay(backoff).ConfigureAwait(false);
        }
    }
}
