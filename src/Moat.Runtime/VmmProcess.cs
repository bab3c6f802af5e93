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

    /// <summary>What QEMU (and its launcher) wrote to stdout and stderr, bounded.</summary>
    public BoundedLog Output { get; } = new();

    public static VmmProcess Start(IReadOnlyList<string> helperCommand, VmmLaunchSpec spec)
    {
        var vmm = new VmmProcess();
        var started = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => vmm.Supervise(helperCommand, spec, started), 256 * 1024)
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

    private void Supervise(IReadOnlyList<string> helperCommand, VmmLaunchSpec spec, TaskCompletionSource<int> started)
    {
        int pid;
        SafeFd output;
        try
        {
            var (read, write) = Pipes.Create();
            var (outRead, outWrite) = Pipes.Create();
            output = outRead;
            using (read)
            using (write)
            using (outWrite)
            {
                var devnull = ErrnoException.Check(Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", "/dev/null");
                try
                {
                    // QEMU's messages go to a pipe read here into bounded memory: a guest that makes
                    // QEMU complain without end costs no disk and no more than the bound.
                    pid = Spawner.Spawn(new SpawnRequest(helperCommand[0], [.. helperCommand, VmmHelper.Verb], [])
                    {
                        Fds = new Dictionary<int, int> { [0] = devnull, [1] = outWrite.Fd, [2] = outWrite.Fd, [3] = read.Fd },
                        NewSession = true,
                    });
                }
                finally
                {
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
        using (output)
        {
            // Until QEMU (and whatever inherited its output) is gone: then the pipe reads EOF.
            var buffer = new byte[4096];
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    var n = Libc.read(output.Fd, p, buffer.Length);
                    if (n > 0)
                    {
                        Output.Append(buffer.AsSpan(0, (int)n));
                    }
                    else if (n == 0 || Marshal.GetLastPInvokeError() != EINTR)
                    {
                        break;
                    }
                }
            }
        }
        int status;
        while (Libc.waitpid(pid, &status, 0) < 0)
        {
            if (Marshal.GetLastPInvokeError() != EINTR)
            {
                _exit.TrySetResult(-1);
                return;
            }
        }
        _exit.TrySetResult(ExitStatus.Decode(status));
    }

    private const int EINTR = 4;
}
