using Moat.Linux;

namespace Moat.ImageBuilder;

/// <summary>Turns module names into .ko paths in load order, using a modules.dep file (<see cref="KernelModuleIndex"/>).</summary>
internal static class ModuleResolver
{
    /// <summary>
    /// Resolves <paramref name="moduleNames"/> (and everything they depend on) to paths relative to
    /// /lib/modules/&lt;kver&gt;/, ordered so every module comes after all of its dependencies.
    /// </summary>
    public static IReadOnlyList<string> Resolve(string modulesDepText, IEnumerable<string> moduleNames, string kernelVersion = "this kernel")
    {
        ArgumentNullException.ThrowIfNull(modulesDepText);
        ArgumentNullException.ThrowIfNull(moduleNames);
        try
        {
            return KernelModuleIndex.Parse(modulesDepText).LoadOrder(moduleNames);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidDataException)
        {
            throw new GuestImageException($"{e.Message.Replace(" is not in modules.dep", " not found in modules.dep", StringComparison.Ordinal)} of {kernelVersion}");
        }
    }

    /// <summary>Module name of a path: "kernel/net/9p/9pnet-virtio.ko" -> "9pnet_virtio".</summary>
    internal static string NameOf(string path) => KernelModuleIndex.NameOf(path);
}
