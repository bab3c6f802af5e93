using System.Runtime.InteropServices;
using System.Text.Json;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Runtime;

/// <summary>
/// The QEMU process, started through <see cref="VmmHelper"/> from a dedicated thread that lives
/// exactly as long as QEMU: PR_SET_PDEATHSIG fires when the spawning thread dies, so the VM dies
/// with this process even on SIGKILL, and never before.
/// </summary>
public sealed unsafe class VmmProcess
{
    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private VmmProcess() { }

    public int Pid { get; private set; }

    /// <summary>Exit code (or 128 + signal) of QEMU.</summary>
    public Task<int> Exit => _exit.Task;

    public static VmmProcess Start(IReadOnlyList<string> helperCommand, VmmLaunchSpec spec, string logPath)
    {
        var vmm = new VmmProcess();
        var started = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => vmm.Supervise(helperCommand, spec, logPath, started), 256 * 1024)
        {
            IsBackground = true,
            Name = "vmm-" + spec.ShareDir,
        };
        thread.Start();
        vmm.Pid = started.Task.GetAwaiter().GetResult();
        return vmm;
    }

    public void Kill(int signal = Signals.SIGKILL)
    {
        if (!Exit.IsCompleted && Pid > 0)
        {
            Libc.kill(Pid, signal);
        }
    }

    private void Supervise(IReadOnlyList<string> helperCommand, VmmLaunchSpec spec, string logPath, TaskCompletionSource<int> started)
    {
        int pid;
        try
        {
            var (read, write) = Pipes.Create();
            using (read)
            using (write)
            {
                var log = ErrnoException.Check(Libc.open(logPath, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x1a4), "open", logPath);
                var devnull = ErrnoException.Check(Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", "/dev/null");
                try
                {
                    pid = Spawner.Spawn(new SpawnRequest(helperCommand[0], [.. helperCommand, VmmHelper.Verb], [])
                    {
                        Fds = new Dictionary<int, int> { [0] = devnull, [1] = log, [2] = log, [3] = read.Fd },
                        NewSession = true,
                    });
                }
                finally
                {
                    Libc.close(log);
                    Libc.close(devnull);
                }
                read.Dispose();
                Pipes.WriteAll(write.Fd, JsonSerializer.SerializeToUtf8Bytes(spec, RuntimeJson.Default.VmmLaunchSpec));
            }
        }
        catch (Exception e)
        {
            started.SetException(e);
            return;
        }
        started.SetResult(pid);
        int status;
        while (Libc.waitpid(pid, &status, 0) < 0)
        {
            if (Marshal.GetLastPInvokeError() != 4 /* EINTR */)
            {
                _exit.TrySetResult(-1);
                return;
            }
        }
        _exit.TrySetResult(ExitStatus.Decode(status));
    }
}
