using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Agent;

/// <summary>
/// The guest's /sbin/modprobe (a link to the agent): what the kernel runs for request_module
/// ("/sbin/modprobe -q -- NAME") when a workload needs a module that is not loaded, e.g. bridge
/// for `brctl addbr` in a privileged container. The modules come from the read-only modules disk
/// the agent mounted at /lib/modules/RELEASE (<see cref="Boot"/>); without it only the modules
/// the image loads at boot are there, and the request fails as on a host without the module.
/// </summary>
internal static class Modprobe
{
    public const string Path = "/sbin/modprobe";

    /// <summary>
    /// Whether this process was started as modprobe: by its name (argv[0]), or by the arguments the
    /// kernel's request_module always passes ("-q -- NAME"), which the agent itself never gets.
    /// </summary>
    public static bool Invoked(string[] args) =>
        System.IO.Path.GetFileName(Environment.GetCommandLineArgs().FirstOrDefault() ?? "") == "modprobe"
        || args is ["-q", "--", _, ..];

    /// <summary>
    /// The kernel runs its helpers in the root it booted with (the initramfs), not in the agent's
    /// root (<see cref="Boot"/> moved that off the initramfs, and mounted the modules disk in it):
    /// with /proc mounted there once, the helper enters PID 1's root, where the modules are.
    /// </summary>
    private static void EnterAgentRoot()
    {
        if (!Directory.Exists("/proc/1"))
        {
            Libc.mount("proc", "/proc", "proc", Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC, null); // a concurrent helper may have won
        }
        if (Libc.chroot("/proc/1/root") == 0)
        {
            Libc.chdir("/");
        }
    }

    /// <summary>Loads each NAME (a module or an alias) with its dependencies; 0 when all are loaded or built in.</summary>
    public static int Run(string[] args)
    {
        var quiet = args.Any(a => a is "-q" or "--quiet");
        var names = args.SkipWhile(a => a.StartsWith('-') && a != "--").SkipWhile(a => a == "--").Where(a => !a.StartsWith('-')).ToList();
        if (names.Count == 0)
        {
            return Fail("usage: modprobe [-q] [--] MODULE...", quiet: false);
        }
        EnterAgentRoot();
        var dir = $"/lib/modules/{File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}";
        KernelModuleIndex index;
        try
        {
            index = KernelModuleIndex.Parse(File.ReadAllText($"{dir}/modules.dep"), Optional($"{dir}/modules.alias"), Optional($"{dir}/modules.builtin"));
        }
        catch (IOException e)
        {
            return Fail($"modprobe: {dir}: {e.Message} (no modules disk in this VM)", quiet);
        }
        var status = 0;
        foreach (var name in names)
        {
            var candidates = index.Lookup(name);
            var loaded = false;
            foreach (var module in candidates)
            {
                if (index.IsBuiltin(module) || LoadWithDependencies(index, dir, module))
                {
                    loaded = true;
                    break;
                }
            }
            if (!loaded)
            {
                status = Fail($"modprobe: {(candidates.Count == 0 ? "module not found" : "could not load")}: {name}", quiet);
            }
        }
        return status;
    }

    private static bool LoadWithDependencies(KernelModuleIndex index, string dir, string module)
    {
        IReadOnlyList<string> order;
        try
        {
            order = index.LoadOrder([module]);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidDataException)
        {
            return false;
        }
        return order.All(rel => Load($"{dir}/{rel}") is 0 or Libc.EEXIST);
    }

    /// <summary>finit_module of one .ko: 0, or the errno (EEXIST: it was loaded already).</summary>
    public static int Load(string path)
    {
        var fd = Libc.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        }
        var empty = System.Runtime.InteropServices.Marshal.StringToCoTaskMemUTF8("");
        try
        {
            var rc = Libc.syscall(Libc.SYS_finit_module, fd, empty, 0, 0, 0);
            return rc < 0 ? System.Runtime.InteropServices.Marshal.GetLastPInvokeError() : 0;
        }
        finally
        {
            System.Runtime.InteropServices.Marshal.FreeCoTaskMem(empty);
            Libc.close(fd);
        }
    }

    private static string? Optional(string path) => File.Exists(path) ? File.ReadAllText(path) : null;

    private static int Fail(string message, bool quiet)
    {
        if (!quiet)
        {
            Console.Error.WriteLine(message);
        }
        return 1;
    }
}
