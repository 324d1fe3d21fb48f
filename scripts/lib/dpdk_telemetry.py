"""A client of DPDK's telemetry v2 socket: one command, one JSON reply."""
import json
import socket
from pathlib import Path

RUNTIME_BASE = Path("/var/run/dpdk")


def socket_path(instance):
    """The telemetry socket of the DPDK process started with --file-prefix INSTANCE."""
    return RUNTIME_BASE / instance / "dpdk_telemetry.v2"


class Telemetry:
    def __init__(self, path, timeout=5):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        info = json.loads(self.sock.recv(4096))
        self.bufsize = max(int(info.get("max_output_len", 16384)), 16384) + 1024

    def query(self, cmd):
        self.sock.send(cmd.encode())
        reply = json.loads(self.sock.recv(self.bufsize))
        return reply.get(cmd.split(",")[0])

    def close(self):
        self.sock.close()
