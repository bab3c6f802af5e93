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

    public void Start()
    {
        var t = new Thread(Loop) { IsBackground = true, Name = "reaper" };
        t.Start();
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
                if (errno == 10 /* ECHILD */)
                {
                    _childAdded.WaitOne(1000);
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
                }
            }
        }
    }
}
