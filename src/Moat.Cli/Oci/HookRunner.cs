using System.Diagnostics;
using Process = System.Diagnostics.Process;
using System.Text.Json;
using Moat.Oci;
using Moat.Runtime;

namespace Moat.Cli.Oci;

/// <summary>Runs OCI hooks on the host (runtime.md "Lifecycle"), each given the state on stdin.</summary>
internal static class HookRunner
{
    public static async Task RunAsync(string stage, IReadOnlyList<Hook>? hooks, ContainerState state, CancellationToken ct)
    {
        if (hooks is null)
        {
            return;
        }
        var json = JsonSerializer.Serialize(state, OciJsonContext.Default.ContainerState);
        for (var i = 0; i < hooks.Count; i++)
        {
            var h = hooks[i];
            var psi = new ProcessStartInfo(h.Path)
            {
                RedirectStandardInput = true,
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var a in (h.Args ?? []).Skip(1))
            {
                psi.ArgumentList.Add(a);
            }
            psi.Environment.Clear();
            foreach (var e in h.Env ?? [])
            {
                var eq = e.IndexOf('=');
                if (eq > 0)
                {
                    psi.Environment[e[..eq]] = e[(eq + 1)..];
                }
            }
            var what = $"{stage} hook #{i} ({h.Path})";
            Process p;
            try
            {
                p = Process.Start(psi) ?? throw new InvalidOperationException("no process");
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{what} cannot run: {e.Message}");
            }
            using (p)
            {
                var stderr = p.StandardError.ReadToEndAsync(ct);
                _ = p.StandardOutput.ReadToEndAsync(ct);
                try
                {
                    await p.StandardInput.WriteAsync(json).ConfigureAwait(false);
                    p.StandardInput.Close();
                }
                catch (IOException)
                {
                    // the hook does not read its stdin
                }
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                if (h.Timeout is { } secs)
                {
                    timeout.CancelAfter(TimeSpan.FromSeconds(secs));
                }
                try
                {
                    await p.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    p.Kill(entireProcessTree: true);
                    throw new RuntimeException(RuntimeErrorKind.Timeout, $"{what} timed out after {h.Timeout} s");
                }
                if (p.ExitCode != 0)
                {
                    var err = (await stderr.ConfigureAwait(false)).Trim().ReplaceLineEndings(" ");
                    throw new RuntimeException(RuntimeErrorKind.FailedPrecondition, $"{what} failed with exit status {p.ExitCode}{(err.Length > 0 ? ": " + err : "")}");
                }
            }
        }
    }
}
