using Moat.Linux.Interop;
using Moat.Protocols.Agent;
using Moat.Ttrpc;

namespace Moat.Agent;

internal static class AgentMain
{
    public const string PortName = "moat.agent";

    public static async Task<int> RunAsync(string[] args)
    {
        var isInit = Libc.getpid() == 1;
        Log.Debug = File.Exists("/proc/cmdline") && File.ReadAllText("/proc/cmdline").Contains("moat.debug", StringComparison.Ordinal);
        try
        {
            var entered = Uptime.Milliseconds();
            if (isInit)
            {
                Boot.Init();
                // Boot.Init has mounted /proc and set Log.Debug from moat.debug.
                var parameters = File.ReadAllText("/proc/cmdline").Split(' ', StringSplitOptions.TrimEntries);
                if (parameters.Contains(HelperLayout.KernelParameter))
                {
                    HelperLayout.FixForHelpers();
                }
                if (parameters.Contains("moat.poweroff"))
                {
                    // Benchmark floor: boot to a ready init, then power off at once.
                    Boot.PowerOff();
                }
            }
            var uptimeMs = Uptime.Milliseconds();
            Log.Verbose($"agent {AgentService.Version}: main at {entered} ms, boot set-up done at {uptimeMs} ms");
            var reaper = new Reaper();
            reaper.Start();
            var launcher = new ProcessLauncher(reaper);
            var warm = Task.Run(() =>
            {
                try
                {
                    Prewarm.Agent();
                    Log.Verbose($"warmed up at {Uptime.Milliseconds()} ms");
                }
                catch (Exception e)
                {
                    Log.Info($"warm-up failed (containers are created all the same): {e.Message}");
                }
            });
            var service = new AgentService(launcher, uptimeMs, warm: warm);
            var server = new TtrpcServer(Log.Info, AgentException.StatusFor);
            AgentServiceBinder.Bind(server, service);

            var device = args.Length > 1 && args[0] == "--port" ? args[1] : Boot.FindVirtioPort(PortName, TimeSpan.FromSeconds(30));
            Log.Verbose($"serving on {device} at {Uptime.Milliseconds()} ms");
            _ = Task.Run(() => launcher.PrepareStandby(ProcessLauncher.BootStandbys));
            while (true)
            {
                // A virtio port opens once; the fd is duplicated so reads and writes never contend on
                // one FileStream. The port reads EOF while no host is connected: then serve again.
                var fd = Moat.Linux.ErrnoException.Check(Libc.open(device, Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", device);
                var fd2 = Moat.Linux.ErrnoException.Check(Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, 0), "dup", device);
                using var input = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, true), FileAccess.Read, 0);
                using var output = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd2, true), FileAccess.Write, 0);
                var started = DateTime.UtcNow;
                Log.Verbose($"connection opened at {Uptime.Milliseconds()} ms");
                await server.ServeAsync(input, output, CancellationToken.None);
                if (DateTime.UtcNow - started < TimeSpan.FromMilliseconds(50))
                {
                    await Task.Delay(20);
                }
            }
        }
        catch (Exception e)
        {
            Log.Info($"fatal: {e}");
            if (isInit)
            {
                Boot.PowerOff();
            }
            return 1;
        }
    }
}
