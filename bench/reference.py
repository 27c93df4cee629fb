"""The physical references: what PostgreSQL and Redis do for a Python client with no queue in between.

PostgreSQL: single-row INSERTs, each its own transaction (psycopg, autocommit),
into a table like a job row's size. Redis: LPUSH of a small payload (redis-py),
one round trip each. backroom's enqueue and drain are shown as % of these.
"""

import os
import time

import psycopg
import redis
from systems.base import PG_SERVER, create_database, drop_database


def postgres_insert_rate(count: int) -> float:
    """Single-row INSERTs per second, in autocommit, into a scratch database."""
    name = f"backroom_bench_{os.getpid()}_reference"
    create_database(name)
    try:
        with psycopg.connect(f"{PG_SERVER} dbname={name}", autocommit=True) as db:
            db.execute("CREATE TABLE job (id bigserial PRIMARY KEY, task text, args jsonb, at timestamptz)")
            started = time.perf_counter()
            for _ in range(count):
                db.execute(
                    "INSERT INTO job (task, args, at) VALUES (%s, %s, now())",
                    ("benchsite.tasks.noop", "[]"),
                )
            return count / (time.perf_counter() - started)
    finally:
        drop_database(name)


def redis_lpush_rate(url: str, count: int) -> float:
    """LPUSHes per second to a key of our own, deleted afterwards."""
    client = redis.Redis.from_url(url)
    key = f"backroom_bench_{os.getpid()}_reference"
    try:
        started = time.perf_counter()
        for _ in range(count):
            client.lpush(key, '{"task_path": "benchsite.tasks.noop", "args": []}')
        return count / (time.perf_counter() - started)
    finally:
        client.delete(key)
