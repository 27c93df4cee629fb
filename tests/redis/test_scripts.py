"""Scripts on pipelines: one round trip, and a Redis that lost its scripts gets them back."""

import redis

import backroom
from backroom.compat import TaskResultStatus
from tests import tasks


def _sends(monkeypatch):
    """Each packed message this process sends to Redis (a spy on redis-py's socket writes)."""
    sent = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


def test_an_enqueue_is_one_round_trip(redis_store, monkeypatch):
    """redis-py asks SCRIPT EXISTS before a pipeline that holds a script: backroom's pipelines do not."""
    task = tasks.add.using(backend=redis_store)
    task.enqueue(0, 0)  # connected, scripts loaded
    sent = _sends(monkeypatch)
    result = task.enqueue(1, 2)
    assert len(sent) == 1, sent
    assert result.status == TaskResultStatus.READY


def test_enqueues_after_redis_lost_its_scripts_store_their_jobs(redis_store, broker):
    """A restarted Redis has no scripts: the pipeline is refused whole, then sent again with them loaded."""
    task = tasks.add.using(backend=redis_store)
    task.enqueue(0, 0)
    admin = broker.redis.client
    admin.script_flush()
    one = task.enqueue(1, 2)
    admin.script_flush()
    many = backroom.enqueue_many(task, [((3, 4), {}), ((5, 6), {})])
    ids = [one.id, *(result.id for result in many)]
    assert all(task.get_result(job_id).status == TaskResultStatus.READY for job_id in ids)
    stored = [broker.get(job_id) for job_id in ids]
    assert [(job.args, job.attempts) for job in stored] == [([1, 2], 0), ([3, 4], 0), ([5, 6], 0)]
