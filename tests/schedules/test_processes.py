"""Real processes, real time: two workers and a standalone scheduler share a one-second schedule."""

import re
import signal
from datetime import timedelta

from backroom.models import Job, JobStatus, ScheduleRun
from tests.support import runs, wait_until

SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.schedules.e2e_settings"}
ENQUEUED = re.compile(r"schedule name=every-second-pg slot=(\S+) enqueued job id=(\S+)")


def test_workers_and_a_standalone_scheduler_enqueue_each_slot_once(pg, worker_process):
    processes = [
        worker_process("--backend", "pg", **SETTINGS),
        worker_process("--backend", "pg", **SETTINGS),
        worker_process("--backend", "pg", verb="scheduler", **SETTINGS),
    ]
    wait_until(
        lambda: runs(pg).filter(label="every-second-pg").count() >= 8, timeout=90, what="8 scheduled runs"
    )
    for process in processes:
        process.send(signal.SIGTERM)
    for process in processes:
        assert process.wait(60) == 0, process.output()
    assert "scheduler running for 'pg': every-second-pg" in processes[2].output()

    slots = list(
        ScheduleRun.objects.using(pg).filter(schedule_name="every-second-pg").order_by("slot_at")
        .values_list("slot_at", flat=True)
    )  # fmt: skip
    # One slot a second from the first to the last, none missing (missed="all"), none twice.
    assert slots == [slots[0] + timedelta(seconds=i) for i in range(len(slots))]
    jobs = Job.objects.using(pg).filter(task_path="tests.tasks.record")
    assert jobs.count() == len(slots)
    # Every process's log together names each slot once: the racing schedulers never both won.
    logged = [m.group(1) for p in processes for m in ENQUEUED.finditer(p.output())]
    assert len(logged) == len(set(logged)) == len(slots)
    # And the jobs ran once each (those still ready at shutdown wait for the next worker).
    assert (
        runs(pg).filter(label="every-second-pg").count() == jobs.filter(status=JobStatus.SUCCESSFUL).count()
    )
