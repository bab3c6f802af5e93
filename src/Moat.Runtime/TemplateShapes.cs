using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>
/// The VM shapes most starts take, and making their templates ahead of need: after an image build,
/// the first container of each shape would otherwise boot and save the template itself (seconds
/// under software emulation) while its caller waits.
/// </summary>
public static class TemplateShapes
{
    /// <summary>A VM shape: how many NICs, and whether it is a pod's (whose vCPUs may grow).</summary>
    public sealed record Shape(string Name, int Nics, bool Pod);

    /// <summary>
    /// A container without a network (<c>moat run</c>, <c>ctr run</c>), one in a network namespace
    /// with one interface (Docker, Podman, nerdctl), and a Kubernetes pod (one interface, vCPUs that grow).
    /// </summary>
    public static readonly IReadOnlyList<Shape> Common =
    [
        new("container", Nics: 0, Pod: false),
        new("container with a network", Nics: 1, Pod: false),
        new("pod", Nics: 1, Pod: true),
    ];

    /// <summary>
    /// Whether <paramref name="options"/> start VMs from templates at all. A first container's CPU
    /// limit is never served by one; its memory limit is, the clone growing to it by hotplug (<see cref="Sandbox"/>).
    /// </summary>
    public static bool Served(RuntimeOptions options) =>
        options.Templates && options.Machine == MachineType.Q35 && options.KernelPath is null && options.InitrdPath is null;

    /// <summary>The VM a sandbox of <paramref name="shape"/> starts with, with placeholder paths (<see cref="VmTemplates.Key"/> ignores them).</summary>
    public static VmConfig ConfigOf(Shape shape, RuntimeOptions options, string kernel, string initrd, string? modulesDisk, Accel accel) =>
        GuestVmConfig.Sandbox(options, kernel, initrd, accel, options.MemoryMiB, Math.Min(options.Vcpus, options.VcpuCeiling),
            "/template/qmp", "/template/agent", "template", shape.Pod, "/template/share", modulesDisk,
            Enumerable.Range(0, shape.Nics).Select(VmTemplates.PlaceholderMac).ToList());

    /// <summary>
    /// Makes the template of every <see cref="Common"/> shape that has none, one after another.
    /// Returns each shape with its template's key, or null where none could be made (logged; that
    /// shape's first start makes it, or boots).
    /// </summary>
    public static async Task<IReadOnlyList<(Shape Shape, string? Key)>> MakeAsync(RuntimeOptions options, PhaseLog log, CancellationToken ct)
    {
        if (!Served(options))
        {
            return [];
        }
        var (kernel, initrd, modulesDisk) = GuestImagePaths.Resolve(options);
        var decision = await QemuAcceleratorHost.Selection(options, kernel, initrd, log).DecideAsync(ct).ConfigureAwait(false);
        var templates = new VmTemplates(options.TemplateDir);
        var helper = GuestVmConfig.HelperCommand(options);
        var made = new List<(Shape, string?)>();
        foreach (var shape in Common)
        {
            var config = ConfigOf(shape, options, kernel, initrd, modulesDisk, decision.Accel);
            var key = VmTemplates.Key(config);
            var template = templates.Find(key) ?? await templates.CreateAsync(key, config, helper, options.AgentTimeout, log, ct).ConfigureAwait(false);
            made.Add((shape, template?.Key));
        }
        return made;
    }
}
