namespace Moat.ImageBuilder.Tests;

public sealed class HostToolsTests
{
    [Fact]
    public async Task Failure_message_names_command_exit_code_last_stderr_line_and_advice()
    {
        var runner = new FakeRunner().On("apt-get", (_, _) => new CommandResult(100, string.Empty, "Reading package lists...\nE: Failed to fetch http://x/y.deb  Could not resolve 'x'\n"));

        var e = await Assert.ThrowsAsync<GuestImageException>(() =>
            HostTools.RunCheckedAsync(runner, "apt-get", ["download", "linux-image-6.1.0-56-amd64"], null, "check that Debian's package mirror is reachable", CancellationToken.None));

        Assert.Equal(
            "apt-get download linux-image-6.1.0-56-amd64 failed (exit 100): E: Failed to fetch http://x/y.deb  Could not resolve 'x' — check that Debian's package mirror is reachable",
            e.Message);
    }

    [Theory]
    [InlineData("depmod", "kmod")]
    [InlineData("dpkg-deb", "dpkg")]
    [InlineData("ldd", "libc-bin")]
    [InlineData("xz", "xz-utils")]
    public async Task Missing_tool_names_its_package(string tool, string package)
    {
        var runner = new FakeRunner().Missing(tool);

        var e = await Assert.ThrowsAsync<GuestImageException>(() => HostTools.RunAsync(runner, tool, [], null, CancellationToken.None));

        Assert.Contains($"apt-get install {package}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Real_runner_reports_a_missing_program_as_file_not_found()
    {
        await Assert.ThrowsAsync<FileNotFoundException>(() =>
            ProcessCommandRunner.Instance.RunAsync("moat-no-such-program", [], null, CancellationToken.None));
    }

    [Fact]
    public async Task Real_runner_captures_output_and_exit_code()
    {
        var result = await ProcessCommandRunner.Instance.RunAsync("sh", ["-c", "echo out; echo err >&2; exit 3"], "/tmp", CancellationToken.None);

        Assert.Equal(new CommandResult(3, "out\n", "err\n"), result);
    }
}
