#!/usr/bin/python3
"""A stand-in for qemu-system-x86_64 that fails the way a broken accelerator does.

Usage: fake-qemu.py MODE QEMU-ARGS...
  internal-error  QEMU's report of a KVM emulation failure on stderr, the VM stopped
                  (QMP STOP event, query-status "internal-error"), the process left alive
  panic           the guest panics half a second after QMP is up (GUEST_PANICKED,
                  query-status "guest-panicked"), the process left alive
  kvm-fails       internal-error when the arguments ask for KVM, else exec the real QEMU
It serves the QMP and agent sockets named on its command line; the agent never answers.
"""
import json, os, socket, sys, threading, time

mode, args = sys.argv[1], sys.argv[2:]

if mode == "kvm-fails":
    if not any("accel=kvm" in a for a in args):
        os.execv("/usr/bin/qemu-system-x86_64", ["qemu-system-x86_64"] + args)
    mode = "internal-error"


def chardev(name):
    for i, a in enumerate(args[:-1]):
        if a == "-chardev" and args[i + 1].startswith(f"socket,id={name},"):
            opts = dict(kv.split("=", 1) for kv in args[i + 1].replace(",,", "\0").split(",") if "=" in kv)
            path = opts["path"].replace("\0", ",")
            return "\0" + path if opts.get("abstract") == "on" else path
    raise SystemExit(f"fake-qemu: no -chardev {name}")


def listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    return s


for i, a in enumerate(args[:-1]):
    if a == "-serial" and args[i + 1].startswith("file:"):
        with open(args[i + 1][5:], "w") as console:
            console.write("fake-qemu: no guest ran\n")

qmp = listen(chardev("qmp"))
agent = listen(chardev("agent"))
status = "running"
if mode == "internal-error":
    status = "internal-error"
    sys.stderr.write("KVM internal error. Suberror: 1\n"
                     "extra data[0]: 0x0000000000000000\n"
                     "emulation failure\n"
                     "RAX=0000000000000000 RBX=0000000000000000 RCX=0000000000000000\n")
    sys.stderr.flush()

held = []


def hold_agent():
    while True:
        conn, _ = agent.accept()
        held.append(conn)  # never answered


threading.Thread(target=hold_agent, daemon=True).start()


def send(conn, obj):
    conn.sendall((json.dumps(obj) + "\r\n").encode())


def event(conn, name, data):
    send(conn, {"timestamp": {"seconds": int(time.time()), "microseconds": 0}, "event": name, "data": data})


def serve(conn):
    global status
    send(conn, {"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": []}})
    buf = b""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            req = json.loads(line)
            cmd, rid = req.get("execute"), req.get("id")
            if cmd == "query-status":
                send(conn, {"return": {"status": status, "running": status == "running", "singlestep": False}, "id": rid})
            elif cmd == "quit":
                send(conn, {"return": {}, "id": rid})
                os._exit(0)
            else:
                send(conn, {"return": {}, "id": rid})
            if cmd == "qmp_capabilities":
                if mode == "internal-error":
                    event(conn, "STOP", {})
                elif mode == "panic":
                    def panic():
                        global status
                        time.sleep(0.5)
                        status = "guest-panicked"
                        event(conn, "GUEST_PANICKED", {"action": "pause", "info": {"type": "hyper-v", "arg1": 0}})
                    threading.Thread(target=panic, daemon=True).start()


while True:
    c, _ = qmp.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
