using Moat.Runtime.Core;

namespace Moat.Runtime.Tests;

/// <summary>A hostile agent answering GetOOMEvent (issue 14, item 7), against the forwarder with recorded waits.</summary>
public sealed class OomForwarderTests
{
    private sealed class Recorder
    {
        public readonly List<string> Published = [];
        public readonly List<string> Logged = [];
        public readonly List<TimeSpan> Waits = [];
        public readonly TaskCompletionSource Gone = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Polls;

        public OomForwarder Forwarder(Func<int, string> answer, int polls, Func<string, bool>? isOurs = null) => new(
            _ =>
            {
                if (++Polls >= polls)
                {
                    Gone.TrySetResult();
                }
                return Task.FromResult(answer(Polls));
            },
            isOurs ?? (id => id == "c1"),
            Published.Add,
            Logged.Add,
            Gone.Task,
            t =>
            {
                Waits.Add(t);
                return Task.CompletedTask;
            });
    }

    [Fact]
    public async Task AFloodOfForeignIdsIsNeverPublishedAndBacksOffToFiveSeconds()
    {
        var r = new Recorder();
        var huge = new string('x', 4 << 20);
        await r.Forwarder(n => n % 2 == 0 ? huge : "other-sandboxes-container", polls: 50).RunAsync();
        Assert.Empty(r.Published);
        // Every refused answer is followed by a wait, doubling from 100 ms and capped at 5 s.
        Assert.Equal(r.Polls, r.Waits.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(100), r.Waits[0]);
        Assert.Equal(TimeSpan.FromMilliseconds(200), r.Waits[1]);
        Assert.All(r.Waits.Skip(7), w => Assert.Equal(OomForwarder.MaxBackoff, w));
        // The log hears of it three times, each line short and free of control characters.
        Assert.Equal(3, r.Logged.Count);
        Assert.All(r.Logged, l => Assert.True(l.Length < 200, l[..Math.Min(l.Length, 300)]));
    }

    [Fact]
    public async Task OwnIdsArePublishedAtMostAHundredASecond()
    {
        var r = new Recorder();
        await r.Forwarder(_ => "c1", polls: 20).RunAsync();
        Assert.Equal(20, r.Published.Count);
        Assert.All(r.Waits, w => Assert.True(w >= TimeSpan.FromSeconds(1.0 / OomForwarder.EventsPerSecond), w.ToString()));
        Assert.Equal(r.Published.Count, r.Waits.Count);
    }

    [Fact]
    public async Task AGoodAnswerResetsTheBackoff()
    {
        var r = new Recorder();
        await r.Forwarder(n => n is 5 ? "c1" : "nope", polls: 7).RunAsync();
        Assert.Equal(["c1"], r.Published);
        Assert.Equal(TimeSpan.FromMilliseconds(100), r.Waits[5]); // the first refusal after the good answer
    }

    [Fact]
    public async Task ErrorsBackOffAndUnavailableEndsTheLoop()
    {
        var calls = 0;
        var waits = new List<TimeSpan>();
        var gone = new TaskCompletionSource();
        var f = new OomForwarder(_ => ++calls < 4
                ? Task.FromException<string>(new AgentException(RuntimeErrorKind.Internal, "boom"))
                : Task.FromException<string>(new AgentException(RuntimeErrorKind.GuestFailure, "closed")),
            _ => true, _ => Assert.Fail("nothing to publish"), _ => { }, gone.Task, t =>
            {
                waits.Add(t);
                return Task.CompletedTask;
            });
        await f.RunAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(4, calls);
        Assert.Equal([TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400)], waits);
    }
}
