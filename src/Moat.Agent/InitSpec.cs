using System.Buffers;
using System.Text.Json;
using Moat.Oci;

namespace Moat.Agent;

/// <summary>
/// What the agent hands the container-init helper on fd 3. The spec and process are written with
/// the OCI model's own JSON code, the code the agent runs on the host's spec: under software
/// emulation the guest translates it once for both processes (a separate serializer context cost
/// the helper ~0.5 s of translation per VM, measured).
/// </summary>
internal sealed class InitSpec
{
    public const string InitMode = "__moat-init";
    public const string ExecMode = "__moat-exec";

    /// <summary>Follows <see cref="InitMode"/> for a helper started ahead of need.</summary>
    public const string StandbyFlag = "--standby";

    /// <summary>The full spec (init mode) with guest paths.</summary>
    public Spec? Spec { get; set; }

    /// <summary>Guest path of the container rootfs (init mode).</summary>
    public string Rootfs { get; set; } = "";

    /// <summary>The process to run (both modes).</summary>
    public Moat.Oci.Process Process { get; set; } = new();

    /// <summary>Agent-visible pid of the container's init process (exec mode).</summary>
    public int InitPid { get; set; }

    /// <summary>
    /// The container's seccomp profile (exec mode): an exec'd process gets the filter of the
    /// container it joins, as with runc. In init mode the helper reads it from <see cref="Spec"/>.
    /// </summary>
    public LinuxSeccomp? Seccomp { get; set; }

    /// <summary>
    /// Namespaces a standby helper enters itself before the set-up (init mode; "ipc" or "uts" with
    /// a /proc/PID/ns path): a pod's containers share those of its sandbox container.
    /// </summary>
    public List<(string Type, string Path)> Joins { get; set; } = [];

    /// <summary>Init mode: the pod's sandbox container, held without its program (<see cref="PodHolder"/>).</summary>
    public bool Hold { get; set; }

    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("rootfs", Rootfs);
            w.WriteNumber("initPid", InitPid);
            w.WriteBoolean("hold", Hold);
            w.WriteStartArray("joins");
            foreach (var (type, path) in Joins)
            {
                w.WriteStringValue(type + "=" + path);
            }
            w.WriteEndArray();
            w.WritePropertyName("process");
            JsonSerializer.Serialize(w, Process, OciJsonContext.Default.Process);
            if (Spec is not null)
            {
                w.WritePropertyName("spec");
                JsonSerializer.Serialize(w, Spec, OciJsonContext.Default.Spec);
            }
            if (Seccomp is not null)
            {
                w.WritePropertyName("seccomp");
                JsonSerializer.Serialize(w, Seccomp, OciJsonContext.Default.LinuxSeccomp);
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static InitSpec FromJson(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new InitSpec
        {
            Rootfs = root.GetProperty("rootfs").GetString() ?? "",
            InitPid = root.GetProperty("initPid").GetInt32(),
            Hold = root.TryGetProperty("hold", out var hold) && hold.GetBoolean(),
            Joins = root.GetProperty("joins").EnumerateArray().Select(j => j.GetString()!).Select(j => (j[..j.IndexOf('=', StringComparison.Ordinal)], j[(j.IndexOf('=', StringComparison.Ordinal) + 1)..])).ToList(),
            Process = root.GetProperty("process").Deserialize(OciJsonContext.Default.Process) ?? throw new InvalidDataException("init spec without a process"),
            Spec = root.TryGetProperty("spec", out var spec) ? spec.Deserialize(OciJsonContext.Default.Spec) : null,
            Seccomp = root.TryGetProperty("seccomp", out var seccomp) ? seccomp.Deserialize(OciJsonContext.Default.LinuxSeccomp) : null,
        };
    }
}
