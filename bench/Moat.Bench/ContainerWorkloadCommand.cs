using System.Diagnostics;
using System.Globalization;

namespace Moat.Bench;

/// <summary>
/// workload: run COMMAND (a `ctr run` of one runtime; "{i}" becomes the run number) RUNS times.
/// With --stdout-mib it counts the bytes the container writes to stdout and times them from the
/// first to the last; otherwise it reads the lines "M NAME UNIT AMOUNT CENTISECONDS" the in-container
/// script (bench/workload.sh) prints, timed inside the container.
/// </summary>
internal static class ContainerWorkloadCommand
{
    public static async Task<int> RunAsync(Args args)
    {
        var samples = args.Get("samples");
        var runtime = args.Get("case");
        var runs = args.Int("runs", 10);
        var stdoutMib = args.Int("stdout-mib", 0);
        for (var i = 0; i < runs; i++)
        {
            var psi = new ProcessStartInfo(args.Command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            foreach (var a in args.Command.Skip(1))
            {
                psi.ArgumentList.Add(a.Replace("{i}", i.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
            }

            using var p = Process.Start(psi)!;
            p.StandardInput.Close();
            var stderr = p.StandardError.ReadToEndAsync();
            List<Sample> results;
            if (stdoutMib > 0)
            {
                var (bytes, seconds) = await CountAsync(p.StandardOutput.BaseStream);
                if (bytes != stdoutMib * 1048576L)
                {
                    throw new BenchException($"{runtime}: {bytes} bytes came through stdout, expected {stdoutMib} MiB; stderr: {await stderr}");
                }

                results = [new Sample("workload", runtime, "stdout", "MiB/s", 0, stdoutMib / seconds)];
            }
            else
            {
                results = Parse(runtime, await p.StandardOutput.ReadToEndAsync());
            }

            await p.WaitForExitAsync();
            if (p.ExitCode != 0 || results.Count == 0)
            {
                throw new BenchException($"{runtime}: {args.Command[0]} exited {p.ExitCode}: {(await stderr).Trim()}");
            }

            SampleFile.Append(samples, results);
            Console.WriteLine($"  {runtime} {i + 1}/{runs}: " + string.Join(", ", results.Select(r => $"{r.Metric} {r.Value:F1} {r.Unit}")));
        }

        return 0;
    }

    private static async Task<(long Bytes, double Seconds)> CountAsync(Stream stdout)
    {
        var buffer = new byte[1 << 20];
        long total = 0;
        Stopwatch? sw = null;
        int n;
        while ((n = await stdout.ReadAsync(buffer)) > 0)
        {
            sw ??= Stopwatch.StartNew();
            total += n;
        }

        return (total, sw?.Elapsed.TotalSeconds ?? 0);
    }

    private static List<Sample> Parse(string runtime, string output) =>
        output.Split('\n').Select(l => l.Trim().Split(' ')).Where(f => f.Length == 5 && f[0] == "M").Select(f =>
        {
            var amount = double.Parse(f[3], CultureInfo.InvariantCulture);
            var seconds = Math.Max(1, double.Parse(f[4], CultureInfo.InvariantCulture)) / 100;
            return new Sample("workload", runtime, f[1].Replace('-', ' '), f[2], 0, f[2] == "s" ? seconds : amount / seconds);
        }).ToList();
}
