"""The chaos run, alone: ``python -m tests.chaos.run --jobs 5000 --workers 3``.

Creates fresh test databases (tests/settings.py), runs the jobs on worker
processes while SIGKILLing one every few seconds, prints the figures, drops
the databases, and exits 1 if a promise broke.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from .standalone import common_arguments, test_databases


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run", description=__doc__)
    common_arguments(parser)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills (default: 3)")
    parser.add_argument("--max-kills", type=int, default=1000, help="stop killing after this many")
    parser.add_argument("--max-ms", type=float, default=20.0, help="longest job in ms (default: 20)")
    parser.add_argument(
        "--prefetch", type=int, default=None, help="worker --prefetch (default: the worker's)"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--restart-rabbitmq",
        action="store_true",
        help="stop and start RabbitMQ once half the jobs are enqueued",
    )
    options = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="backroom-chaos-"))
    with test_databases(options.store):
        from tests.support import rabbitmq_stopped

        from .harness import run_chaos

        figures = run_chaos(
            options.store,
            jobs=options.jobs,
            workers=options.workers,
            concurrency=options.concurrency,
            **({} if options.prefetch is None else {"prefetch": options.prefetch}),
            kill_every=options.kill_every,
            max_kills=options.max_kills,
            max_ms=options.max_ms,
            log_dir=log_dir,
            seed=options.seed,
            say=lambda message: print(message, flush=True),
            outage=rabbitmq_stopped if options.restart_rabbitmq else None,
        )
    print(figures.report())
    print(f"{'worker logs':>30}: {log_dir}")
    for problem in figures.problems():
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if figures.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
