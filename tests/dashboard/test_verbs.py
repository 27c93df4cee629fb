"""``backroom status`` as a health check, against a real worker process; ``retry`` and ``cancel``."""

import signal

from tests import tasks
from tests.support import backroom_verb as backroom
from tests.support import runs, stored_job, wait_until

from .states import claim_one, drain, failed_job, register_worker


def test_status_fails_while_ready_jobs_have_no_live_worker(store, worker_process, viewer, tmp_path):
    release = tmp_path / "release"
    tasks.wait_for_file.using(backend=store, queue_name="emails").enqueue(str(release), "blocker", store)
    waiting = tasks.in_emails_queue.using(backend=store).enqueue("waiting", store)
    banner = "No worker is running for queue <strong>emails</strong>"
    overview = f"/backroom/?backend={store}&region=queues"

    code, out, err = backroom("status", "--backend", store)
    assert code == 1
    assert "emails" in out and "no worker registered" in out
    assert "No worker is running for queue emails" in err and "backroom worker" in err
    assert banner in viewer.get(overview).content.decode()

    # A live worker serving the queue, busy with the first job: the second waits, but is served.
    worker = worker_process("--backend", store, "--queue", "emails")
    wait_until(lambda: runs(store).filter(label="blocker:started").exists(), what="the blocker to start")
    code, out, err = backroom("status", "--backend", store)
    assert code == 0, out + err
    assert err == ""
    lines = out.splitlines()
    queue_line = next(line for line in lines if line.startswith("emails"))
    assert queue_line.split() == ["emails", "1", "0", "1", "0", queue_line.split()[5], "1", "no"]
    worker_line = next(line for line in lines if f" {worker.pid} " in line)
    assert " emails " in worker_line and " live " in worker_line
    assert banner not in viewer.get(overview).content.decode()
    assert stored_job(store, waiting.id).status == "READY"

    # The worker dies: once its heartbeat is older than the lease, nobody serves the queue.
    worker.send(signal.SIGKILL)
    worker.wait()
    wait_until(
        lambda: backroom("status", "--backend", store)[0] == 1, what="status to notice the dead worker"
    )
    code, out, _ = backroom("status", "--backend", store)
    assert " STALE " in next(line for line in out.splitlines() if f" {worker.pid} " in line)
    assert banner in viewer.get(overview).content.decode()


def test_status_is_healthy_when_nothing_waits(store):
    tasks.noop.using(backend=store).enqueue()
    register_worker(store, "w-all", [])
    code, out, err = backroom("status", "--backend", store)
    assert (code, err) == (0, "")
    assert "w-all" in out and " live " in out


def test_status_covers_every_backend_by_default(store):
    code, out, _ = backroom("status")
    assert code == 0
    assert f"backend {store}" in out
    assert backroom("status", "--backend", "nope")[0] == 1


UNKNOWN = "01234567-89ab-7def-8123-456789abcdef"


def test_retry_verb(store):
    failed = failed_job(store)
    code, out, err = backroom("retry", "--backend", store, failed, UNKNOWN)
    assert code == 1
    assert out == f"retried {failed}: it is ready again\n"
    assert err == f"not retried {UNKNOWN}: no such job\n"
    assert stored_job(store, failed).status == "READY"

    again = failed_job(store)  # the retried one fails again too
    code, out, _ = backroom("retry", "--backend", store, "--failed-of", "tests.tasks.always_fail")
    assert code == 0 and "retried 2 failed job(s)" in out
    assert stored_job(store, again).status == "READY"


def test_retry_verb_says_why_a_job_was_not_retried(store):
    keyed = failed_job_with_key(store, "report:7")
    holder = tasks.noop.using(backend=store, unique_key="report:7").enqueue().id
    code, out, err = backroom("retry", "--backend", store, holder, keyed, UNKNOWN)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"not retried {holder}: it is ready; only failed or cancelled jobs are retried",
        f"not retried {keyed}: another active job holds its unique key 'report:7'",
        f"not retried {UNKNOWN}: no such job",
    ]
    assert stored_job(store, holder).status == "READY"

    assert backroom("cancel", "--backend", store, holder)[0] == 0  # the key is free again
    assert backroom("retry", "--backend", store, keyed) == (0, f"retried {keyed}: it is ready again\n", "")


def failed_job_with_key(store: str, key: str) -> str:
    result = tasks.always_fail.using(backend=store, max_attempts=1, unique_key=key).enqueue("boom")
    drain(store)
    assert stored_job(store, result.id).status == "FAILED"
    return result.id


def test_cancel_verb(store):
    failed = failed_job(store)
    ready = tasks.noop.using(backend=store).enqueue().id
    running = claim_one(store, "w-1")
    code, out, err = backroom("cancel", "--backend", store, ready, running, failed, UNKNOWN)
    assert code == 1
    assert out.splitlines() == [
        f"cancelled {ready}: it was ready, no worker will run it",
        f"asked {running} to stop: it is running, and stops if its task checks context.is_cancel_requested()",
    ]
    assert err.splitlines() == [
        f"not cancelled {failed}: it has already finished",
        f"not cancelled {UNKNOWN}: no such job",
    ]
    assert stored_job(store, ready).status == "CANCELLED"
    assert stored_job(store, ready).errors[-1].cancelled_by == "manage.py backroom cancel"
