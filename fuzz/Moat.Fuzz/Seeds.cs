using System.Text;
using Google.Protobuf;
using Moat.Fuzz.Targets;
using Moat.Protocols.Agent;
using Moat.Ttrpc;
using Moat.Ttrpc.Protocol;

namespace Moat.Fuzz;

/// <summary>
/// Writes the binary seeds of the ttrpc and agent targets (<c>Moat.Fuzz --write-seeds fuzz/corpus</c>):
/// real frames made by Moat's own encoder, carrying the messages host and agent exchange.
/// The text seeds (QMP, config.json, TOML) are kept as files.
/// </summary>
internal static class Seeds
{
    private const string Service = AgentClient.ServiceName;

    /// <summary>cgroup v2 files as a Debian 12 guest kernel shows them.</summary>
    private static readonly Dictionary<string, string> CgroupFiles = new()
    {
        ["cpu.stat"] = "usage_usec 48213\nuser_usec 30117\nsystem_usec 18096\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
        ["memory.stat"] = "anon 1380352\nfile 2818048\nkernel_stack 32768\nslab 262144\nsock 0\nshmem 0\nfile_mapped 1212416\nfile_dirty 0\nfile_writeback 0\nanon_thp 0\ninactive_anon 1363968\nactive_anon 16384\ninactive_file 2125824\nactive_file 692224\nunevictable 0\nslab_reclaimable 131072\nslab_unreclaimable 131072\npgfault 1823\npgmajfault 4\n",
        ["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
        ["memory.current"] = "4521984\n",
        ["memory.max"] = "max\n",
        ["memory.swap.current"] = "0\n",
        ["memory.swap.max"] = "max\n",
        ["pids.current"] = "2\n",
        ["pids.max"] = "max\n",
    };

    public static void Write(string root)
    {
        WriteServerSeeds(Path.Combine(root, "ttrpc-server"));
        WriteClientSeeds(Path.Combine(root, "ttrpc-client"));
        WriteMessageSeeds(Path.Combine(root, "agent-messages"));
        File.WriteAllText(
            Path.Combine(root, "oci-spec", "moat-default.json"),
            System.Text.Json.JsonSerializer.Serialize(Moat.Oci.DefaultSpec.Create(), Moat.Oci.OciJsonContext.Default.Spec));
    }

    private static void WriteServerSeeds(string dir)
    {
        Directory.CreateDirectory(dir);
        var spec = """{"ociVersion":"1.1.0","process":{"args":["sh"],"cwd":"/"},"root":{"path":"/run/moat/shared/c/rootfs"}}""";
        File.WriteAllBytes(Path.Combine(dir, "check"), Request(1, "Check", new CheckRequest()));
        File.WriteAllBytes(Path.Combine(dir, "container-lifecycle"), Concat(
            Request(1, "CreateSandbox", new CreateSandboxRequest
            {
                SandboxId = "s", Hostname = "h", HostTimeUnixNano = 1_700_000_000_000_000_000, Entropy = ByteString.CopyFrom(new byte[32]),
                Storages = { new Storage { Driver = "9p", Source = "moatshare", MountPoint = "/run/moat/shared", Fstype = "9p", Options = { "trans=virtio", "version=9p2000.L" } } },
            }),
            Request(3, "CreateContainer", new CreateContainerRequest { ContainerId = "c", OciSpecJson = ByteString.CopyFromUtf8(spec), Stdin = true }),
            Request(5, "StartContainer", new StartContainerRequest { ContainerId = "c" }),
            Request(7, "WriteStdin", new WriteStreamRequest { ContainerId = "c", Data = ByteString.CopyFromUtf8("echo hi\n") }),
            Request(9, "ReadStdout", new ReadStreamRequest { ContainerId = "c", Len = 1 << 20 }),
            Request(11, "WaitProcess", new WaitProcessRequest { ContainerId = "c" }),
            Request(13, "RemoveContainer", new RemoveContainerRequest { ContainerId = "c", TimeoutSeconds = 10 })));
        File.WriteAllBytes(Path.Combine(dir, "exec-and-network"), Concat(
            Request(1, "ExecProcess", new ExecProcessRequest { ContainerId = "c", ExecId = "e", ProcessJson = ByteString.CopyFromUtf8("""{"args":["ls"],"cwd":"/"}""") }),
            Request(3, "SignalProcess", new SignalProcessRequest { ContainerId = "c", ExecId = "e", Signal = 15, All = true }),
            Request(5, "TtyWinResize", new TtyWinResizeRequest { ContainerId = "c", Row = 24, Column = 80 }),
            Request(7, "ConfigureNetwork", new ConfigureNetworkRequest
            {
                Interfaces = { new NetworkInterface { Mac = "02:42:ac:11:00:02", Mtu = 1500, Addresses = { new IpAddress { Address = "10.88.0.2", PrefixLength = 16 } } } },
                Routes = { new NetworkRoute { Destination = "0.0.0.0", PrefixLength = 0, Gateway = "10.88.0.1" } },
            }),
            Request(9, "UpdateContainer", new UpdateContainerRequest { ContainerId = "c", ResourcesJson = ByteString.CopyFromUtf8("""{"memory":{"limit":268435456}}""") }),
            Request(11, "StatsContainer", new StatsContainerRequest { ContainerId = "c" }),
            Request(13, "OnlineCpus", new OnlineCpusRequest { Count = 2 }),
            Request(15, "GetOOMEvent", new GetOOMEventRequest()),
            Request(17, "DestroySandbox", new DestroySandboxRequest { PowerOff = true })));
        File.WriteAllBytes(Path.Combine(dir, "metadata-and-deadline"), Frame(1, MessageType.Request, FrameFlags.None, new Request
        {
            Service = Service, Method = "Check", Payload = new CheckRequest { Service = "x" }.ToByteString(), TimeoutNano = 30_000_000_000,
            Metadata = { new KeyValue { Key = "k", Value = "v" }, new KeyValue { Key = "k", Value = "w" } },
        }));
        File.WriteAllBytes(Path.Combine(dir, "protocol-errors"), Concat(
            Request(1, "Nope", new Empty()),
            Frame(3, MessageType.Request, FrameFlags.None, new Request { Service = "nope", Method = "Check" }),
            Request(2, "Check", new CheckRequest()),
            Request(3, "Check", new CheckRequest()),
            Frame(5, MessageType.Request, FrameFlags.RemoteOpen, new Request { Service = Service, Method = "Check" }),
            Frame(7, MessageType.Data, FrameFlags.RemoteClosed | FrameFlags.NoData, new Empty()),
            Frame(9, MessageType.Request, FrameFlags.None, new Request { Service = Service, Method = "Check", Payload = ByteString.CopyFrom(0xff, 0xff) })));
        File.WriteAllBytes(Path.Combine(dir, "response-from-client"), Frame(1, MessageType.Response, FrameFlags.None, new Response()));
        // A header claiming 4 GiB of data: refused before anything is allocated.
        File.WriteAllBytes(Path.Combine(dir, "header-4gib"), [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1, 0]);
    }

    private static void WriteClientSeeds(string dir)
    {
        Directory.CreateDirectory(dir);
        IMessage[] replies =
        [
            new CheckResponse { Serving = true, AgentVersion = "0.1.0", StandbyReady = true },
            new GuestDetailsResponse { KernelRelease = "6.1.0-28-amd64", KernelVersion = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1", BootId = "0b1c4f52-8c3e-4f37-9d2a-6a0f7f1f0c11", MemTotalBytes = 493_000_000, OnlineCpus = 1, AgentVersion = "0.1.0", AgentReadyUptimeMs = 412 },
            new StartContainerResponse { Pid = 42 },
            new ExecProcessResponse { Pid = 43 },
            new WaitProcessResponse { Status = 137 },
            new ReadStreamResponse { Data = ByteString.CopyFromUtf8("hello from 6.1.0-28-amd64\n"), Eof = true },
            new WriteStreamResponse { Len = 8 },
            new StatsContainerResponse { CgroupFiles = { CgroupFiles } },
            new OOMEvent { ContainerId = "c" },
            new OnlineCpusResponse { OnlineCpus = 2 },
            new Protocols.Agent.Empty(),
        ];
        var ok = new List<byte[]>();
        for (var i = 0; i < replies.Length; i++)
        {
            ok.Add(Reply((uint)(2 * i + 1), replies[i]));
        }

        File.WriteAllBytes(Path.Combine(dir, "all-replies"), Concat([.. ok]));
        File.WriteAllBytes(Path.Combine(dir, "replies-reversed"), Concat([.. Enumerable.Reverse(ok)]));
        File.WriteAllBytes(Path.Combine(dir, "stats"), Reply(15, replies[7]));
        File.WriteAllBytes(Path.Combine(dir, "error-statuses"), Concat(
            Frame(1, MessageType.Response, FrameFlags.None, new Response { Status = new Moat.Ttrpc.Protocol.Status { Code = (int)StatusCode.NotFound, Message = "container c not found" } }),
            Frame(3, MessageType.Response, FrameFlags.None, new Response { Status = new Moat.Ttrpc.Protocol.Status { Code = (int)StatusCode.DeadlineExceeded, Message = "deadline exceeded" } }),
            Frame(5, MessageType.Response, FrameFlags.None, new Response { Payload = ByteString.CopyFrom(0x08) }),
            Frame(7, MessageType.Data, FrameFlags.None, new Protocols.Agent.Empty()),
            Reply(9, replies[4]),
            Reply(9, replies[4]),
            Reply(23, replies[4])));
        File.WriteAllBytes(Path.Combine(dir, "request-from-agent"), Frame(2, MessageType.Request, FrameFlags.None, new Request { Service = Service, Method = "Check" }));
        File.WriteAllBytes(Path.Combine(dir, "header-4gib"), [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 2, 0]);
    }

    private static void WriteMessageSeeds(string dir)
    {
        Directory.CreateDirectory(dir);
        var samples = new Dictionary<string, IMessage>
        {
            ["CheckResponse"] = new CheckResponse { Serving = true, AgentVersion = "0.1.0" },
            ["GuestDetailsResponse"] = new GuestDetailsResponse { KernelRelease = "6.1.0-28-amd64", MemTotalBytes = 493_000_000, OnlineCpus = 1 },
            ["StartContainerResponse"] = new StartContainerResponse { Pid = 42 },
            ["ExecProcessResponse"] = new ExecProcessResponse { Pid = -1 },
            ["WaitProcessResponse"] = new WaitProcessResponse { Status = -1 },
            ["ReadStreamResponse"] = new ReadStreamResponse { Data = ByteString.CopyFromUtf8("out\n"), Eof = false },
            ["WriteStreamResponse"] = new WriteStreamResponse { Len = 4 },
            ["StatsContainerResponse"] = new StatsContainerResponse { CgroupFiles = { CgroupFiles } },
            ["OOMEvent"] = new OOMEvent { ContainerId = "c" },
            ["OnlineCpusResponse"] = new OnlineCpusResponse { OnlineCpus = 4 },
            ["ttrpc.Response"] = new Response { Status = new Moat.Ttrpc.Protocol.Status { Code = 5, Message = "not found" }, Payload = ByteString.CopyFrom(8, 1) },
            ["ttrpc.Request"] = new Request { Service = Service, Method = "Check", TimeoutNano = 1, Metadata = { new KeyValue { Key = "a", Value = "b" } } },
            ["CreateSandboxRequest"] = new CreateSandboxRequest { SandboxId = "s", Storages = { new Storage { Driver = "9p", Options = { "trans=virtio" } } } },
            ["ConfigureNetworkRequest"] = new ConfigureNetworkRequest { Interfaces = { new NetworkInterface { Mac = "02:42:ac:11:00:02", Addresses = { new IpAddress { Address = "10.88.0.2", PrefixLength = 16 } } } } },
        };
        foreach (var (name, message) in samples)
        {
            var selector = Array.FindIndex(AgentMessagesTarget.Messages, m => m.Name == name);
            File.WriteAllBytes(Path.Combine(dir, name), [(byte)selector, .. message.ToByteArray()]);
        }
    }

    private static byte[] Request(uint streamId, string method, IMessage payload) =>
        Frame(streamId, MessageType.Request, FrameFlags.None, new Request { Service = Service, Method = method, Payload = payload.ToByteString() });

    private static byte[] Reply(uint streamId, IMessage payload) =>
        Frame(streamId, MessageType.Response, FrameFlags.None, new Response { Status = new Moat.Ttrpc.Protocol.Status(), Payload = payload.ToByteString() });

    private static byte[] Frame(uint streamId, MessageType type, FrameFlags flags, IMessage message) =>
        FrameWriter.Encode(streamId, type, flags, message);

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

}
