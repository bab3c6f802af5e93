namespace Moat.Agent;

/// <summary>The guest's vCPUs as sysfs shows them: hotplugged ones arrive offline and are onlined here.</summary>
internal static class GuestCpus
{
    private const string CpuDir = "/sys/devices/system/cpu";

    /// <summary>Writes 1 to the <c>online</c> file of each present vCPU that is offline; returns how many are online.</summary>
    public static int OnlineAll()
    {
        foreach (var dir in Directory.EnumerateDirectories(CpuDir, "cpu*"))
        {
            var online = Path.Combine(dir, "online");
            if (!IsCpuDir(dir) || !File.Exists(online))
            {
                continue;
            }
            try
            {
                if (File.ReadAllText(online).Trim() == "0")
                {
                    File.WriteAllText(online, "1");
                    Log.Verbose($"onlined {Path.GetFileName(dir)}");
                }
            }
            catch (IOException e)
            {
                // The kernel may still be adding it (EBUSY); the caller tries again.
                Log.Verbose($"cannot online {Path.GetFileName(dir)} yet: {e.Message}");
            }
        }
        return Online();
    }

    /// <summary>How many vCPUs are online (the ranges in <c>/sys/devices/system/cpu/online</c>, e.g. "0-2,4").</summary>
    public static int Online() => CountRanges(File.ReadAllText(Path.Combine(CpuDir, "online")));

    internal static int CountRanges(string list)
    {
        var count = 0;
        foreach (var part in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            count += dash < 0 ? 1 : int.Parse(part.AsSpan(dash + 1), System.Globalization.CultureInfo.InvariantCulture) - int.Parse(part.AsSpan(0, dash), System.Globalization.CultureInfo.InvariantCulture) + 1;
        }
        return count;
    }

    private static bool IsCpuDir(string dir)
    {
        var name = Path.GetFileName(dir.AsSpan());
        return name.Length > 3 && int.TryParse(name[3..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _);
    }
}
