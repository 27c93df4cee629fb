"""Run the signup demo: migrate, then the SMTP sink, one worker and the web server, until Ctrl-C.

``./dev demo`` runs this in the project's .venv. Each child runs in its own
session, so Ctrl-C reaches only this supervisor, which then sends every child
one SIGTERM: the worker finishes the email it is sending and exits. The site
outlives its worker: stop the worker (or start with --no-worker) and the
sign-up page shows what its users see when nobody runs the queue.
"""

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANAGE = [sys.executable, str(HERE / "manage.py")]
HOST = "127.0.0.1"
DEFAULT_DATA_DIR = HERE / "var"
DEFAULT_SMTP_PORT = 8025
START_TIMEOUT_SECONDS = 60
# The worker's default shutdown grace is 30 s; give it that and a little more.
STOP_TIMEOUT_SECONDS = 35


def parse_args(argv: list[str]) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=int(env.get("DEMO_PORT", 8000)), help="Web port (DEMO_PORT, 8000)."
    )
    parser.add_argument(
        "--smtp-port",
        type=int,
        default=int(env.get("DEMO_SMTP_PORT", DEFAULT_SMTP_PORT)),
        help="SMTP sink port (DEMO_SMTP_PORT, 8025).",
    )
    parser.add_argument(
        "--sink-delay",
        type=float,
        default=float(env.get("DEMO_SINK_DELAY", 1.5)),
        help="Seconds the sink takes to accept a message (DEMO_SINK_DELAY, 1.5).",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(env.get("DEMO_DATA_DIR", DEFAULT_DATA_DIR)),
        help="Where the SQLite database and the outbox live (DEMO_DATA_DIR, example/var).",
    )
    parser.add_argument(
        "--no-sink",
        action="store_true",
        help="Start no SMTP sink: mail goes to whatever listens on --smtp-port (or fails and retries).",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="Start no worker: emails wait, and the page says that no worker is running.",
    )
    return parser.parse_args(argv)


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers themselves do
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


class Child:
    """One process of the demo, its output relayed line by line behind its name."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], stop_signal: int = signal.SIGTERM
    ) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal is for the supervisor alone
        )
        threading.Thread(target=self._relay, daemon=True).start()

    def _relay(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            sys.stdout.write(f"{self.name:>6} | {line.decode(errors='replace')}")
            sys.stdout.flush()

    def running(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        if self.running():
            self.process.send_signal(self.stop_signal)

    def wait(self, deadline: float) -> int:
        """Wait until ``deadline`` (monotonic), then kill; return the exit code."""
        try:
            return self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{self.name} did not stop within {STOP_TIMEOUT_SECONDS}s: killing it", flush=True)
            self.process.kill()
            return self.process.wait()


def wait_for_port(port: int, child: Child, stop: threading.Event) -> bool:
    """Wait until ``child`` accepts connections on ``port``; False if it exited or we are stopping."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while child.running() and not stop.is_set() and time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return True
        except OSError:
            stop.wait(0.1)
    return False


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    ports = {"web": ("--port", "DEMO_PORT", args.port)}
    if not args.no_sink:
        ports["SMTP sink"] = ("--smtp-port", "DEMO_SMTP_PORT", args.smtp_port)
    for what, (flag, variable, port) in ports.items():
        if port_in_use(port):
            print(
                f"Port {port} ({what}) is already in use on {HOST}. "
                f"Stop what uses it, or choose another port with {flag} or {variable}.",
                file=sys.stderr,
            )
            return 2

    args.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="demo_site.settings",
        DEMO_DATA_DIR=str(args.data_dir),
        DEMO_SMTP_PORT=str(args.smtp_port),
        PYTHONUNBUFFERED="1",
    )
    print(f"Migrating {args.data_dir / 'db.sqlite3'}", flush=True)
    if subprocess.run([*MANAGE, "migrate", "--noinput", "-v", "0"], env=env).returncode:
        return 1
    staff = subprocess.run([*MANAGE, "demo_staff"], env=env, stdout=subprocess.PIPE, text=True)
    if staff.returncode:
        return 1

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    children: list[Child] = []
    try:
        if not args.no_sink:
            sink = Child(
                "sink",
                [*MANAGE, "mailsink", "--port", str(args.smtp_port), "--delay", str(args.sink_delay)],
                env,
            )
            children.append(sink)
            if not wait_for_port(args.smtp_port, sink, stop):
                return 0 if stop.is_set() else 1
        worker = None if args.no_worker else Child("worker", [*MANAGE, "backroom", "worker"], env)
        if worker is not None:
            children.append(worker)
        # runserver's own clean stop is Ctrl-C: SIGINT, on which it exits 0.
        runserver = [*MANAGE, "runserver", f"{HOST}:{args.port}", "--noreload"]
        web = Child("web", runserver, env, stop_signal=signal.SIGINT)
        children.append(web)
        if not wait_for_port(args.port, web, stop):
            return 0 if stop.is_set() else 1
        print_urls(args, staff.stdout.strip(), worker)
        while not stop.wait(0.2):
            if worker is not None and not worker.running():
                children.remove(worker)  # the site goes on without it
                print(
                    f"worker exited with code {worker.process.returncode}: the site keeps running and emails "
                    f"wait. Start a worker again in another terminal: {worker_command(args)}",
                    flush=True,
                )
                worker = None
            exited = [child for child in children if not child.running()]
            if exited:
                print(f"{exited[0].name} exited with code {exited[0].process.returncode}: stopping the demo")
                return 1
        return 0
    finally:
        shut_down(children)


def worker_command(args: argparse.Namespace) -> str:
    """The command that starts this demo's worker, naming its data directory and port if not the defaults."""
    settings = {"DEMO_DATA_DIR": args.data_dir.resolve(), "DEMO_SMTP_PORT": args.smtp_port}
    defaults = {"DEMO_DATA_DIR": DEFAULT_DATA_DIR, "DEMO_SMTP_PORT": DEFAULT_SMTP_PORT}
    prefix = "".join(
        f"{name}={shlex.quote(str(value))} " for name, value in settings.items() if value != defaults[name]
    )
    return f"{prefix}./dev manage backroom worker"


def print_urls(args: argparse.Namespace, staff_login: str, worker: Child | None) -> None:
    base = f"http://{HOST}:{args.port}"
    sink = "not started (--no-sink)" if args.no_sink else f"delay {args.sink_delay:g}s"
    running = (
        f"pid {worker.process.pid} (kill {worker.process.pid} to see a page wait for none)"
        if worker is not None
        else f"not started (--no-worker); start one with {worker_command(args)}"
    )
    print(
        "\nThe backroom signup demo is running:\n"
        f"  sign up, email in the background  {base}/\n"
        f"  sign up, email inside the request {base}/?mode=sync\n"
        f"  messages the SMTP sink received  {base}/outbox/\n"
        f"  backroom's dashboard (staff)      {base}/backroom/\n"
        f"  Django's admin (staff)            {base}/admin/\n"
        f"  staff login                       {staff_login}\n"
        f"  SMTP sink                         {HOST}:{args.smtp_port} ({sink})\n"
        f"  worker                            {running}\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )


def shut_down(children: list[Child]) -> None:
    """Stop the children one by one, newest first, so the worker's last email still finds the sink."""
    if children:
        print("Stopping the demo", flush=True)
    for child in reversed(children):
        child.terminate()
        code = child.wait(time.monotonic() + STOP_TIMEOUT_SECONDS)
        print(f"{child.name} stopped (exit code {code})", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
