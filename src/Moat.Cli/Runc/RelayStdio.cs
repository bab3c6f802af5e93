using System.Text;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Cli.Runc;

/// <summary>
/// The relay's stdio as the shim will open it. The caller's pipes and ttys are handed over by
/// path (/proc/PID/fd/N: the shim then reads and writes them directly); files and sockets go
/// through a pipe the relay copies (a file shares its offset with the caller, a socket cannot be
/// reopened). With a console socket the relay makes a pty, sends its master to the caller and
/// keeps the slave as its controlling terminal, so resizes reach it as SIGWINCH.
/// </summary>
internal sealed class RelayStdio : IDisposable
{
    private readonly List<IDisposable> _keep = [];
    private readonly List<SafeFd> _closeAtExit = [];
    private readonly List<Task> _outputPumps = [];

    public string Stdin { get; private set; } = "";
    public string Stdout { get; private set; } = "";
    public string Stderr { get; private set; } = "";
    public bool Terminal { get; private set; }

    /// <summary>The terminal whose size the container's tty follows.</summary>
    public int? TtyFd { get; private set; }

    public static RelayStdio Prepare(RelayJob job)
    {
        var s = new RelayStdio();
        var self = Environment.ProcessId;
        if (job.Terminal && job.ConsoleSocket is { } consoleSocket)
        {
            var (master, slave) = Pty.Open();
            s._keep.Add(slave);
            var name = new FileInfo($"/proc/self/fd/{slave.Fd}").LinkTarget ?? throw new InvalidOperationException("pty without a name");
            if (Moat.Linux.Terminal.MakeRaw(slave.Fd) is { } raw)
            {
                s._keep.Add(raw); // the guest's tty does the line discipline, not this one
            }
            unsafe
            {
                Libc.ioctl(slave.Fd, Libc.TIOCSCTTY, 0); // resizes of the master now signal us
            }
            SendMaster(consoleSocket, master, name);
            s.Stdin = s.Stdout = name;
            s.Terminal = true;
            s.TtyFd = slave.Fd;
            return s;
        }
        if (job.Terminal)
        {
            // moat run -t in the foreground: the caller's own terminal, raw while the container has it.
            if (Moat.Linux.Terminal.MakeRaw(0) is { } raw)
            {
                s._keep.Add(raw);
            }
            s.Stdin = $"/proc/{self}/fd/0";
            s.Stdout = $"/proc/{self}/fd/1";
            s.Terminal = true;
            s.TtyFd = 0;
            return s;
        }
        s.Stdin = s.Pass(0, self);
        s.Stdout = s.Pass(1, self);
        s.Stderr = s.Pass(2, self);
        return s;
    }

    private string Pass(int fd, int self)
    {
        var target = Libc.fcntl(fd, Libc.F_GETFD, 0) >= 0 ? new FileInfo($"/proc/self/fd/{fd}").LinkTarget : null;
        if (target is null)
        {
            return "";
        }
        // Pipes and terminals have no file offset: the shim may reopen them. Anything else (a file
        // whose offset the caller shares with us, a socket that cannot be reopened) goes through a
        // pipe this relay copies to or from the caller's own descriptor.
        if (target.StartsWith("pipe:", StringComparison.Ordinal) || target.StartsWith("/dev/", StringComparison.Ordinal))
        {
            return $"/proc/{self}/fd/{fd}";
        }
        var (r, w) = Pipes.Create();
        if (fd == 0)
        {
            _keep.Add(r);
            Copy(fd, w.Fd, () => w.Dispose());
            return $"/proc/{self}/fd/{r.Fd}";
        }
        _closeAtExit.Add(w);
        _keep.Add(r);
        _outputPumps.Add(Copy(r.Fd, fd, null));
        return $"/proc/{self}/fd/{w.Fd}";
    }

    private static Task Copy(int from, int to, Action? atEof)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            var buffer = new byte[64 * 1024];
            try
            {
                int n;
                while ((n = Pipes.Read(from, buffer)) > 0)
                {
                    Pipes.WriteAll(to, buffer.AsSpan(0, n));
                }
            }
            catch (ErrnoException)
            {
                // the other end went away
            }
            atEof?.Invoke();
            done.TrySetResult();
        })
        { IsBackground = true, Name = $"relay {from}->{to}" }.Start();
        return done.Task;
    }

    private static void SendMaster(string path, SafeFd master, string name)
    {
        using (master)
        using (var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            try
            {
                socket.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            }
            catch (System.Net.Sockets.SocketException e)
            {
                throw new Moat.Runtime.RuntimeException(Moat.Runtime.RuntimeErrorKind.InvalidArgument, $"--console-socket {path}: {e.Message}");
            }
            FdPassing.Send((int)socket.Handle, master.Fd, Encoding.UTF8.GetBytes(name));
        }
    }

    /// <summary>After the process exited and the shim closed its ends: let the copies reach EOF.</summary>
    public async Task CompleteAsync()
    {
        foreach (var fd in _closeAtExit)
        {
            fd.Dispose();
        }
        await Task.WhenAny(Task.WhenAll(_outputPumps), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
    }

    public void Dispose()
    {
        foreach (var k in _keep)
        {
            k.Dispose();
        }
    }
}
