using System.Diagnostics;

namespace Moat.Integration.Tests;

/// <summary>Starts and stops a private containerd (Debian's package) on a config of the caller's, logging to a file.</summary>
public static class PrivateContainerd
{
    /// <summary>Starts containerd on <paramref name="config"/> and waits until <c>ctr version</c> reaches it.</summary>
    public static async Task<Process> StartAsync(string config, string logPath, Func<string[], Task<CmdResult>> ctr)
    {
        var daemon = StartLogged("containerd", ["--config", config, "--log-level", "debug"], logPath);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(await ctr(["version"])).Stdout.Contains("Server:", StringComparison.Ordinal))
        {
            if (daemon.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"containerd did not start; see {logPath}");
            }
            await Task.Delay(100);
        }
        return daemon;
    }

    /// <summary>
    /// Stops containerd as an operator's restart does (SIGTERM: its shims and their tasks go on)
    /// and starts it again on the same config, state and sockets after <paramref name="away"/>.
    /// </summary>
    public static async Task<Process> RestartAsync(Process daemon, TimeSpan away, string config, string logPath, Func<string[], Task<CmdResult>> ctr)
    {
        Moat.Linux.Interop.Libc.kill(daemon.Id, 15);
        await daemon.WaitForExitAsync();
        daemon.Dispose();
        await Task.Delay(away);
        return await StartAsync(config, logPath, ctr);
    }

    /// <summary>Starts a daemon whose stdout and stderr go to <paramref name="logPath"/>.</summary>
    public static Process StartLogged(string file, IEnumerable<string> args, string logPath)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var daemon = Process.Start(psi)!;
        var log = File.AppendText(logPath); // a restarted daemon goes on in the same log
        log.AutoFlush = true;
        daemon.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        daemon.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        daemon.BeginErrorReadLine();
        daemon.BeginOutputReadLine();
        return daemon;
    }

    /// <summary>Stops containerd, keeps its log when MOAT_TEST_KEEP_LOGS names a directory, unmounts and removes <paramref name="dir"/>.</summary>
    public static async Task StopAsync(Process? daemon, string dir, string logPath, string keptName)
    {
        if (daemon is { HasExited: false })
        {
            daemon.Kill();
            await daemon.WaitForExitAsync();
        }
        if (Environment.GetEnvironmentVariable("MOAT_TEST_KEEP_LOGS") is { Length: > 0 } keep)
        {
            Directory.CreateDirectory(keep);
            File.Copy(logPath, Path.Combine(keep, $"{keptName}-{DateTime.UtcNow:HHmmss}.log"), overwrite: true);
        }
        // Snapshots and task rootfs mounts live under the private root.
        var mounts = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])
            .Where(m => m.StartsWith(dir, StringComparison.Ordinal)).OrderByDescending(m => m.Length).ToList();
        foreach (var m in mounts)
        {
            await Cmd.RunAsync("umount", ["-l", m]);
        }
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
