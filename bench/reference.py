"""The physical references: what PostgreSQL and Redis do for a Python client with no queue in between.

Each is the least a durable enqueue costs on its store, measured from Python
like the systems, in the same run:

- PostgreSQL: one INSERT of a job-shaped row per transaction (psycopg,
  autocommit, so each waits for its commit's WAL flush), a prepared
  statement, into a logged table with the columns a job row has and only
  its primary key (no queue needs fewer indexes), in a scratch database.
- Redis: one round trip per job (redis-py), an LPUSH of the same row as JSON.

The tables show each system's enqueue and drain as a share of these.
"""

import json
import os
import time
import uuid
from datetime import UTC, datetime

import psycopg
import redis
from systems.base import PG_SERVER, create_database, drop_database

JOB_TABLE = """
CREATE TABLE job (
    id uuid PRIMARY KEY,
    task_path varchar(255) NOT NULL,
    queue_name varchar(64) NOT NULL,
    priority smallint NOT NULL,
    status varchar(10) NOT NULL,
    args jsonb NOT NULL,
    kwargs jsonb NOT NULL,
    run_after timestamptz,
    available_at timestamptz NOT NULL,
    enqueued_at timestamptz NOT NULL,
    attempts integer NOT NULL,
    max_attempts integer NOT NULL
)
"""
INSERT_JOB = """
INSERT INTO job (id, task_path, queue_name, priority, status, args, kwargs, run_after,
                 available_at, enqueued_at, attempts, max_attempts)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


def job_row() -> tuple[object, ...]:
    """Make a new no-op job's column values, in INSERT_JOB's order."""
    now = datetime.now(UTC)
    return (uuid.uuid4(), "benchsite.tasks.noop", "default", 0, "READY", "[]", "{}", None, now, now, 0, 1)


def postgres_insert_rate(count: int) -> float:
    """Measure job-shaped rows INSERTed per second, one per transaction, by a prepared statement."""
    name = f"backroom_bench_{os.getpid()}_reference"
    create_database("postgres", name)
    try:
        with psycopg.connect(f"{PG_SERVER} dbname={name}", autocommit=True) as db:
            db.execute(JOB_TABLE)
            db.execute(INSERT_JOB, job_row(), prepare=True)  # prepares it, outside the clock
            started = time.perf_counter()
            for _ in range(count):
                db.execute(INSERT_JOB, job_row(), prepare=True)
            return count / (time.perf_counter() - started)
    finally:
        drop_database("postgres", name)


def redis_push_rate(url: str, count: int) -> float:
    """Measure job-shaped JSON payloads LPUSHed per second, one round trip each, to a scratch key."""
    client = redis.Redis.from_url(url)
    key = f"backroom_bench_{os.getpid()}_reference"
    try:
        client.ping()  # connects, outside the clock
        started = time.perf_counter()
        for _ in range(count):
            client.lpush(key, json.dumps(job_row(), default=str))
        return count / (time.perf_counter() - started)
    finally:
        client.delete(key)
