using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Moat.Cli.Commands;

/// <summary><c>moat features</c>: what this runtime implements (features.md of the runtime spec), as JSON.</summary>
internal static class FeaturesCommand
{
    public static Command Create()
    {
        var cmd = new Command("features", "show the OCI features Moat implements (JSON)");
        cmd.SetAction(_ =>
        {
            static JsonArray Strings(IEnumerable<string> items) => new(items.Select(i => (JsonNode)i!).ToArray());
            var doc = new JsonObject
            {
                ["ociVersionMin"] = "1.0.0",
                ["ociVersionMax"] = Moat.Oci.Spec.CurrentVersion,
                ["hooks"] = Strings(["prestart", "createRuntime", "poststart", "poststop"]),
                ["mountOptions"] = Strings(Moat.Linux.MountOptions.Known.Order(StringComparer.Ordinal)),
                ["linux"] = new JsonObject
                {
                    ["namespaces"] = Strings(["cgroup", "ipc", "mount", "network", "pid", "uts"]),
                    ["capabilities"] = Strings(Moat.Linux.Capabilities.All),
                    ["cgroup"] = new JsonObject { ["v1"] = false, ["v2"] = true, ["systemd"] = false, ["systemdUser"] = false },
                    ["seccomp"] = new JsonObject
                    {
                        ["enabled"] = true,
                        ["actions"] = Strings(Moat.Oci.SpecValidator.SupportedSeccompActions),
                        ["operators"] = Strings(Moat.Oci.SpecValidator.SeccompOperatorNames),
                        ["archs"] = Strings(Moat.Oci.SpecValidator.SeccompArchitectureNames),
                        ["knownFlags"] = Strings(Moat.Oci.SpecValidator.SeccompFlagNames),
                        ["supportedFlags"] = Strings(Moat.Oci.SpecValidator.SeccompFlagNames),
                    },
                    ["apparmor"] = new JsonObject { ["enabled"] = false },
                    ["selinux"] = new JsonObject { ["enabled"] = false },
                },
                ["annotations"] = new JsonObject
                {
                    ["io.moat.runtime"] = "each container (or pod) runs in its own QEMU virtual machine",
                },
            };
            Console.WriteLine(doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return cmd;
    }
}
