using System.Runtime.InteropServices;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Agent;

/// <summary>
/// Reaps every child (the agent is PID 1, so orphans land here too) on one thread and completes
/// the waiter registered for that pid with its shell-style exit status.
/// </summary>
internal sealed unsafe class Reaper
{
    private readonly object _lock = new();
    private readonly Dictionary<int, TaskCompletionSource<int>> _waiters = [];
    private readonly AutoResetEvent _childAdded = new(false);
    private readonly AutoResetEvent _sweepSoon = new(false);

    /// <summary>
    /// The sweep's first interval after a spawn and its ceiling: it doubles while nothing is spawned,
    /// so an idle VM is not woken every second (each wake-up costs host CPU, most under TCG).
    /// </summary>
    private static readonly TimeSpan SweepFirst = TimeSpan.FromSeconds(1), SweepMax = TimeSpan.FromSeconds(64);

    /// <summary>How long the loop waits for a spawn when the agent has no child (a spawn wakes it at once).</summary>
    private static readonly TimeSpan NoChildWait = TimeSpan.FromSeconds(64);

    public void Start()
    {
        TakeSigchldBack();
        var t = new Thread(Loop) { IsBackground = true, Name = "reaper" };
        t.Start();
        var s = new Thread(SweepVanished) { IsBackground = true, Name = "reaper-sweep" };
        s.Start();
    }

    /// <summary>
    /// The .NET runtime reaps every child itself (waitpid(-1, WNOHANG) on SIGCHLD) when it runs
    /// as pid 1, which steals exits from this reaper. Make sure its handler is installed, then
    /// put SIGCHLD back to the default disposition so only this reaper collects children.
    /// </summary>
    private static void TakeSigchldBack()
    {
        using (System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGCHLD, _ => { }))
        {
        }
        Libc.signal(Signals.SIGCHLD, 0);
    }

    /// <summary>
    /// A registered pid that no longer exists (not even as a zombie) was reaped elsewhere, so its
    /// waiter would wait for ever: seen with a second container's init after SIGKILL, before
    /// <see cref="TakeSigchldBack"/>. A safety net since then: report such a pid as killed rather
    /// than leave the task running, within two sweeps (up to ~2 minutes once nothing was spawned for a while).
    /// </summary>
    private void SweepVanished()
    {
        // A pid gone on one sweep may just have been reaped by the loop, which is waiting for the
        // lock to report it: only a pid still registered and gone on the next sweep, at least
        // SweepFirst later, was lost. A spawn brings the next sweep forward to SweepFirst from
        // then, never closer to the last one.
        var suspects = new HashSet<int>();
        var interval = SweepFirst;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var due = clock.Elapsed + interval;
            for (var left = interval; left > TimeSpan.Zero; left = due - clock.Elapsed)
            {
                if (_sweepSoon.WaitOne(left))
                {
                    interval = SweepFirst;
                    due = TimeSpan.FromTicks(Math.Min(due.Ticks, (clock.Elapsed + SweepFirst).Ticks));
                }
            }
            interval = TimeSpan.FromTicks(Math.Min(interval.Ticks * 2, SweepMax.Ticks));
            Libc.signal(Signals.SIGCHLD, 0);
            lock (_lock)
            {
                suspects.IntersectWith(_waiters.Keys);
                foreach (var pid in _waiters.Keys.ToList())
                {
                    if (Libc.kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() != Libc.ESRCH)
                    {
                        suspects.Remove(pid);
                    }
                    else if (!suspects.Add(pid))
                    {
                        _waiters.Remove(pid, out var tcs);
                        suspects.Remove(pid);
                        Log.Info($"pid {pid} vanished without being reaped here; reporting it as killed");
                        tcs!.TrySetResult(128 + 9);
                    }
                }
            }
        }
    }

    /// <summary>Runs <paramref name="spawn"/> and registers the pid it returns, so an early exit is not lost.</summary>
    public (int Pid, Task<int> Exit) Spawn(Func<int> spawn)
    {
        lock (_lock)
        {
            var pid = spawn();
            // The reaper needs this lock to report any exit, so registering under it loses none.
            var tcs = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters[pid] = tcs;
            _childAdded.Set();
            _sweepSoon.Set();
            return (pid, tcs.Task);
        }
    }

    private void Loop()
    {
        while (true)
        {
            int status;
            var pid = Libc.waitpid(-1, &status, 0);
            if (pid < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.ECHILD)
                {
                    _childAdded.WaitOne(NoChildWait);
                }
                continue;
            }
            if (!ExitStatus.IsExitedOrSignaled(status))
            {
                continue;
            }
            var code = ExitStatus.Decode(status);
            lock (_lock)
            {
                if (_waiters.Remove(pid, out var tcs))
                {
                    tcs.TrySetResult(code);
                    Log.Verbose($"reaped {pid}: status {code}");
                }
                else
                {
                    Log.Verbose($"reaped {pid} (not ours to report): status {code}");
                }
            }
        }
    }
}
