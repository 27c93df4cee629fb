"""A Redis Cluster of our own on free ports: 3 primaries (and replicas when asked), removed afterwards.

The test run starts one for the store suite; the cluster chaos run starts
another, with a replica per primary, so that it can kill a primary.
"""

import ctypes
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

SERVER = shutil.which("redis-server")
PR_SET_PDEATHSIG = 1
CLI = shutil.which("redis-cli")


def _die_with_parent() -> None:
    """In the node's process before it starts: SIGKILL it when the process that started it ends.

    A pytest-xdist worker ends without running atexit handlers, and a run can be killed: either way the
    nodes would outlive it. (Linux's PR_SET_PDEATHSIG; elsewhere the atexit handler is all there is.)
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def free_ports(count: int) -> list[int]:
    """Ports free now, distinct, whose +10000 bus ports are free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 55000 and port not in ports:
            ports.append(port)
    return ports


@dataclass
class Cluster:
    directory: Path
    primaries: int = 3
    replicas: int = 0
    ports: list[int] = field(default_factory=list)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> "Cluster":
        self.ports = free_ports(self.primaries * (1 + self.replicas))
        for port in self.ports:
            self.start_node(port)
        command = [CLI or "redis-cli", "--cluster", "create"]
        command += [f"127.0.0.1:{port}" for port in self.ports]
        command += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        self.wait_ok()
        self.wait_replicated()
        return self

    def start_node(self, port: int) -> None:
        node_dir = self.directory / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        self.processes[port] = subprocess.Popen(
            [
                SERVER or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
                "--dir", str(node_dir), "--logfile", str(node_dir / "log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port, socket_connect_timeout=0.5).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def wait_ok(self, timeout: float = 30) -> None:
        """Wait until every running node says the cluster is ok."""
        deadline = time.monotonic() + timeout
        while True:
            states = []
            for port, process in self.processes.items():
                if process.poll() is None:
                    info = redis.Redis(port=port, decode_responses=True).cluster("info")
                    states.append(info["cluster_state"] if isinstance(info, dict) else "")
            if states and all(state == "ok" for state in states):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Redis Cluster is not ok: {states}")
            time.sleep(0.1)

    def wait_replicated(self, timeout: float = 30) -> None:
        """Wait until every replica has synced with its primary: one that never did is not promoted."""
        deadline = time.monotonic() + timeout
        while True:
            links = []
            for port in self.ports:
                info = redis.Redis(port=port, decode_responses=True).info("replication")
                if info["role"] == "slave":
                    links.append(
                        info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")
                    )
            if len(links) == self.primaries * self.replicas and all(links):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replicas did not sync: {links}")
            time.sleep(0.1)

    def kill(self, port: int) -> None:
        self.processes[port].kill()
        self.processes[port].wait(10)

    def primary_ports(self) -> list[int]:
        nodes = redis.Redis(port=self.ports[0], decode_responses=True).cluster("nodes")
        return sorted(
            int(address.split(":")[1].split("@")[0])
            for address, node in nodes.items()
            if "master" in node["flags"] and "fail" not in node["flags"]
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_cluster(primaries: int = 3, replicas: int = 0) -> Cluster:
    return Cluster(Path(tempfile.mkdtemp(prefix="backroom-cluster-")), primaries, replicas).start()
