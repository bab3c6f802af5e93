using System.Text;
using Moat.Linux;

namespace Moat.Cli.Runc;

/// <summary>Line-based handshake between a CLI verb and the relay it spawned (a socketpair end).</summary>
internal static class ControlChannel
{
    public static void Send(int fd, string line) => Pipes.WriteAll(fd, Encoding.UTF8.GetBytes(line.ReplaceLineEndings(" ") + "\n"));

    /// <summary>The next line, or null at EOF (the other side died) or after <paramref name="timeout"/>.</summary>
    public static async Task<string?> ReceiveAsync(int fd, TimeSpan timeout)
    {
        var read = Task.Run(() =>
        {
            var bytes = new List<byte>();
            var one = new byte[1];
            while (Pipes.Read(fd, one) == 1)
            {
                if (one[0] == (byte)'\n')
                {
                    return Encoding.UTF8.GetString(bytes.ToArray());
                }
                bytes.Add(one[0]);
            }
            return null;
        });
        return await Task.WhenAny(read, Task.Delay(timeout)).ConfigureAwait(false) == read ? await read.ConfigureAwait(false) : null;
    }
}
