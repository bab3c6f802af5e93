using Moat.ImageBuilder;

namespace Moat.Runtime;

public static class GuestImagePaths
{
    /// <summary>
    /// The kernel and initrd to boot, and the modules disk of Moat's image (null with a kernel or
    /// initrd of the configuration's own), or a one-line error saying which is missing and how to fix it.
    /// </summary>
    public static (string Kernel, string Initrd, string? ModulesDisk) Resolve(RuntimeOptions o)
    {
        string kernel, initrd;
        string? modulesDisk = null;
        if (o.KernelPath is not null && o.InitrdPath is not null)
        {
            (kernel, initrd) = (o.KernelPath, o.InitrdPath);
        }
        else
        {
            var image = GuestImage.TryLoadCurrent(o.DataDir) ?? throw new RuntimeException(RuntimeErrorKind.MissingDependency,
                $"no guest image under {o.DataDir}/guest: run 'moat image build' to build the guest kernel and initrd");
            (kernel, initrd) = (o.KernelPath ?? image.KernelPath, o.InitrdPath ?? image.InitrdPath);
            modulesDisk = o.KernelPath is null && o.InitrdPath is null ? image.ModulesDiskPath : null;
        }
        foreach (var (what, path) in new[] { ("guest kernel", kernel), ("guest initrd", initrd) })
        {
            if (!File.Exists(path))
            {
                throw new RuntimeException(RuntimeErrorKind.MissingDependency,
                    $"{what} {path} is missing: run 'moat image build' to rebuild it");
            }
            try
            {
                using var _ = File.OpenRead(path);
            }
            catch (UnauthorizedAccessException)
            {
                throw new RuntimeException(RuntimeErrorKind.MissingDependency, $"{what} {path} is not readable: check its permissions or run 'moat image build'");
            }
        }
        if (!File.Exists(o.QemuBinary))
        {
            throw new RuntimeException(RuntimeErrorKind.MissingDependency,
                $"QEMU {o.QemuBinary} is missing: install it with 'apt-get install qemu-system-x86'");
        }
        if (o.Firmware.Length > 0 && !File.Exists(o.Firmware))
        {
            throw new RuntimeException(RuntimeErrorKind.MissingDependency,
                $"firmware {o.Firmware} (hypervisor.firmware) is missing: install qemu-system-data, or set firmware = \"\" for QEMU's own");
        }
        return (kernel, initrd, modulesDisk);
    }
}
