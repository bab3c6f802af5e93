using Moat.Fuzz;
using SharpFuzz;

// Moat.Fuzz TARGET            run under afl-fuzz (fuzz/run.sh): one input per iteration, in-process
// Moat.Fuzz TARGET PATH...    replay files (or every file of a directory); exit 1 on any bug
// Moat.Fuzz --list            the targets
// Moat.Fuzz --write-seeds DIR (re)write the binary seeds of the ttrpc and agent targets under DIR
if (args is ["--write-seeds", var seedRoot])
{
    Seeds.Write(seedRoot);
    return 0;
}

if (args.Length == 0 || args[0] is "-h" or "--help" or "--list")
{
    foreach (var t in FuzzTargets.All)
    {
        Console.WriteLine($"{t.Name,-16} {t.Description}");
    }

    return args.Length == 0 ? 2 : 0;
}

var target = FuzzTargets.Find(args[0]);
if (target is null)
{
    Console.Error.WriteLine($"unknown target '{args[0]}' (try --list)");
    return 2;
}

// MOAT_FUZZ_ONE_THREAD=1 (with DOTNET_PROCESSOR_COUNT=1): one thread-pool thread runs the reader and
// writer loops and handlers in turn, so their coverage edges do not interleave (fuzz/run.sh sets it).
if (Environment.GetEnvironmentVariable("MOAT_FUZZ_ONE_THREAD") == "1" && !ThreadPool.SetMaxThreads(1, 1))
{
    Console.Error.WriteLine("could not limit the thread pool to one thread (set DOTNET_PROCESSOR_COUNT=1)");
}

if (args.Length == 1)
{
    // Persistent mode: SharpFuzz reads each input from AFL's shared memory; an exception that
    // escapes Run is reported to afl-fuzz as a crash, a hang past its -t as a hang.
    Fuzzer.Run(stream =>
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        target.Run(copy.ToArray());
    });
    return 0;
}

// Outside afl-fuzz an instrumented build (fuzz/out/TARGET/bin) still records coverage: give it a map.
unsafe
{
    if (SharpFuzz.Common.Trace.SharedMem == null)
    {
        SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
    }
}

var failed = 0;
var files = args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]);
foreach (var file in files)
{
    try
    {
        target.Run(File.ReadAllBytes(file));
        Console.WriteLine($"ok    {file}");
    }
    catch (Exception e)
    {
        failed++;
        Console.WriteLine($"BUG   {file}: {e}");
    }
}

return failed == 0 ? 0 : 1;
