namespace Moat.Agent;

/// <summary>The guest's vCPUs as sysfs shows them: hotplugged ones arrive offline and are onlined here.</summary>
internal static class GuestCpus
{
    private const string CpuDir = "/sys/devices/system/cpu";

    /// <summary>
    /// Writes 1 to the <c>online</c> file of present, offline vCPUs (lowest first) until
    /// <paramref name="count"/> are online; returns how many are online. Present vCPUs beyond
    /// <paramref name="count"/> stay offline (under TCG every vCPU QEMU may need exists from boot).
    /// </summary>
    public static int OnlineUpTo(int count)
    {
        var online = Online();
        foreach (var dir in Directory.EnumerateDirectories(CpuDir, "cpu*").Where(IsCpuDir).OrderBy(CpuNumber))
        {
            if (online >= count)
            {
                break;
            }
            if (!TryOnline(dir))
            {
                continue;
            }
            online = Online();
        }
        return Online();
    }

    private static int CpuNumber(string dir) =>
        int.Parse(Path.GetFileName(dir.AsSpan())[3..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Onlines the vCPU at <paramref name="dir"/> if it is offline; true when it was onlined now.</summary>
    private static bool TryOnline(string dir)
    {
        var online = Path.Combine(dir, "online");
        if (!File.Exists(online))
        {
            return false;
        }
        try
        {
            if (File.ReadAllText(online).Trim() == "0")
            {
                File.WriteAllText(online, "1");
                Log.Verbose($"onlined {Path.GetFileName(dir)}");
                return true;
            }
        }
        catch (IOException e)
        {
            // The kernel may still be adding it (EBUSY); the caller tries again.
            Log.Verbose($"cannot online {Path.GetFileName(dir)} yet: {e.Message}");
        }
        return false;
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
