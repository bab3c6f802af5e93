using System.Diagnostics;
using System.Text;

namespace Moat.Hypervisor.Tests;

/// <summary>A QEMU child process for tests; disposing kills it if it is still running.</summary>
internal sealed class QemuProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private QemuProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    /// <summary>stdout and stderr so far, for assertion messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static QemuProcess Start(string binary, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = psi };
        var qemu = new QemuProcess(process);
        process.OutputDataReceived += qemu.Append;
        process.ErrorDataReceived += qemu.Append;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return qemu;
    }

    /// <summary>Connects to QMP, retrying while QEMU has not created the socket yet.</summary>
    public async Task<QmpClient> ConnectQmpAsync(string socketPath, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            try
            {
                return await QmpClient.ConnectAsync(socketPath, cts.Token);
            }
            catch (IOException) when (!cts.IsCancellationRequested && !_process.HasExited)
            {
                await Task.Delay(50, cts.Token);
            }
            catch (Exception ex)
            {
                throw new InvalidOperationException($"QMP connect failed (exited={_process.HasExited}); QEMU said: {Output}", ex);
            }
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
            // never started
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Append(object sender, DataReceivedEventArgs e)
    {
        if (e.Data is not null)
        {
            lock (_output)
            {
                _output.AppendLine(e.Data);
            }
        }
    }
}
