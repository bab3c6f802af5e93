using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Moat.Cli.Runc;
using Moat.Runtime;
using Moat.Ttrpc;

namespace Moat.Cli.Commands;

/// <summary><c>moat update [--resources FILE|-] [--memory ...] ID</c>: change the limits of a container's guest cgroup (the VM grows to fit).</summary>
internal static class UpdateCommand
{
    public static Command Create()
    {
        var resources = new Option<string?>("--resources", "-r") { Description = "LinuxResources JSON file, or - for stdin" };
        var flags = new (Option<string?> Option, string Group, string Field, bool Bytes)[]
        {
            (new Option<string?>("--memory", "-m") { Description = "memory limit (bytes, or with k/m/g)" }, "memory", "limit", true),
            (new Option<string?>("--memory-reservation") { Description = "memory soft limit" }, "memory", "reservation", true),
            (new Option<string?>("--memory-swap") { Description = "memory plus swap limit" }, "memory", "swap", true),
            (new Option<string?>("--cpu-shares") { Description = "CPU shares (relative weight)" }, "cpu", "shares", false),
            (new Option<string?>("--cpu-quota") { Description = "CPU CFS quota (microseconds per period)" }, "cpu", "quota", false),
            (new Option<string?>("--cpu-period") { Description = "CPU CFS period (microseconds)" }, "cpu", "period", false),
            (new Option<string?>("--cpuset-cpus") { Description = "CPUs allowed (in the VM)" }, "cpu", "cpus", false),
            (new Option<string?>("--cpuset-mems") { Description = "memory nodes allowed" }, "cpu", "mems", false),
            (new Option<string?>("--pids-limit") { Description = "maximum number of processes" }, "pids", "limit", false),
            (new Option<string?>("--blkio-weight") { Description = "block IO weight" }, "blockIO", "weight", false),
        };
        var id = new Argument<string>("container-id");
        var cmd = new Command("update", "update a container's resource limits") { resources, id };
        foreach (var f in flags)
        {
            cmd.Options.Add(f.Option);
        }
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var containerId = r.GetValue(id)!;
            var rec = CliStore.Read(r.GetValue(GlobalOptions.Root)!, containerId);
            var json = r.GetValue(resources) is { } source ? ReadResources(source) : new JsonObject();
            foreach (var (option, group, field, bytes) in flags)
            {
                if (r.GetValue(option) is not { } text)
                {
                    continue;
                }
                var obj = json[group] as JsonObject ?? (JsonObject)(json[group] = new JsonObject());
                obj[field] = field is "cpus" or "mems" ? text : Number(option.Name, text, bytes);
            }
            await using var client = await ShimConnection.ConnectAsync(rec, ct);
            try
            {
                await client.UpdateAsync(containerId, new Any
                {
                    TypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
                    Value = ByteString.CopyFromUtf8(json.ToJsonString()),
                }, ct);
            }
            catch (TtrpcException e)
            {
                throw ShimConnection.Translate(e, containerId);
            }
            return 0;
        }));
        return cmd;
    }

    private static JsonObject ReadResources(string source)
    {
        try
        {
            var text = source == "-" ? Console.In.ReadToEnd() : File.ReadAllText(source);
            return JsonNode.Parse(text) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"--resources {source}: not valid LinuxResources JSON: {e.Message}");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"--resources {source}: no such file");
        }
    }

    private static long Number(string flag, string text, bool bytes)
    {
        var t = text.Trim().ToLowerInvariant();
        long unit = 1;
        if (bytes && t.Length > 1 && "kmg".Contains(t[^1], StringComparison.Ordinal))
        {
            unit = t[^1] switch { 'k' => 1L << 10, 'm' => 1L << 20, _ => 1L << 30 };
            t = t[..^1];
        }
        return long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            ? n * unit
            : throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{flag} {text}: not a number{(bytes ? " (bytes, or with k/m/g)" : "")}");
    }
}
