using Moat.Hypervisor;

namespace Moat.Runtime.Tests.Fakes;

/// <summary>Runtime options for sandboxes on <see cref="FakeHypervisor"/>s: everything under one temp directory, TCG, no templates, stand-in image files.</summary>
internal static class FakeVmOptions
{
    public static RuntimeOptions In(string dir)
    {
        var kernel = Path.Combine(dir, "vmlinux");
        File.WriteAllText(kernel, "");
        return new RuntimeOptions
        {
            StateRoot = Path.Combine(dir, "state"),
            NodeDir = Path.Combine(dir, "node"),
            DataDir = Path.Combine(dir, "data"),
            LogDir = Path.Combine(dir, "log"),
            KernelPath = kernel,
            InitrdPath = kernel,
            QemuBinary = "/bin/true",
            VmmHelperCommand = ["/bin/true"],
            Accelerator = AcceleratorChoice.Tcg,
            Templates = false,
            MemoryMiB = 512,
            MaxMemoryMiB = 2048,
            Vcpus = 1,
            MaxVcpus = 4,
            AgentTimeout = TimeSpan.FromSeconds(10),
        };
    }
}
