using System.Diagnostics;
using Moat.Linux;

namespace Moat.Runtime.Tests;

public sealed class ProcessExitWatchTests
{
    [Fact]
    public async Task CompletesWhenTheProcessEnds()
    {
        using var sleeper = Process.Start("sleep", "30");
        using var watch = ProcessExitWatch.Open(sleeper.Id);
        Assert.NotNull(watch);
        await Task.Delay(200);
        Assert.False(watch.Exited.IsCompleted, "the process still runs");
        sleeper.Kill();
        await watch.Exited.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void AProcessAlreadyGoneHasNoWatch()
    {
        using var done = Process.Start("true");
        done.WaitForExit(); // reaped: the pid names nothing now
        Assert.Null(ProcessExitWatch.Open(done.Id));
    }

    [Fact]
    public async Task DisposingStopsTheWaitWithoutCompletingIt()
    {
        using var sleeper = Process.Start("sleep", "30");
        var watch = ProcessExitWatch.Open(sleeper.Id)!;
        Assert.True(Waiters() >= 1);
        watch.Dispose();
        for (var i = 0; i < 100 && Waiters() > 0; i++)
        {
            await Task.Delay(50);
        }
        Assert.Equal(0, Waiters());
        sleeper.Kill();
        await Task.Delay(200);
        Assert.False(watch.Exited.IsCompleted);
    }

    /// <summary>This process's threads waiting on a pidfd (the tests of this class run one at a time).</summary>
    private static int Waiters() =>
        Directory.EnumerateDirectories("/proc/self/task").Count(t => Comm(t) == "pidfd-wait");

    private static string Comm(string task)
    {
        try
        {
            return File.ReadAllText(Path.Combine(task, "comm")).Trim();
        }
        catch (IOException)
        {
            return ""; // the thread ended meanwhile
        }
    }
}
