using System.Globalization;

namespace Moat.Agent;

internal static class Uptime
{
    /// <summary>Milliseconds since the guest kernel booted (0 before /proc is mounted).</summary>
    public static long Milliseconds()
    {
        try
        {
            return (long)(double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], CultureInfo.InvariantCulture) * 1000);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
