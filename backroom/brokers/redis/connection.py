"""The I/O shared by the Redis broker and inspector: a client (one Redis or a cluster), scripts, errors.

redis-py's errors end here: what means Redis cannot serve us for now (down,
loading, failing over, a cluster slot without a primary) becomes
``StoreUnavailable``; anything else ``StoreError``.
"""

import functools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis
import redis.cluster
from redis import exceptions as errors

from ...exceptions import StoreError, StoreUnavailable
from .keys import Keys
from .scripts import Scripts

#: redis-py errors that mean Redis cannot serve us for now: down, loading, failing over.
UNAVAILABLE = (
    errors.ConnectionError,
    errors.TimeoutError,
    errors.BusyLoadingError,
    errors.ReadOnlyError,
    errors.MasterDownError,
    errors.ClusterDownError,
    errors.TryAgainError,
    errors.SlotNotCoveredError,
    errors.RedisClusterException,
)
#: Connection settings unless the REDIS_URL's query string (``?socket_timeout=...``) says otherwise.
CLIENT_DEFAULTS: dict[str, Any] = {
    "socket_timeout": 10.0,
    "socket_connect_timeout": 5.0,
    "health_check_interval": 30,
}
#: How long the list of queues is trusted before it is read again.
QUEUE_LIST_SECONDS = 1.0


def redacted(url: str) -> str:
    """The URL without its password, fit for messages and logs.

    Read by hand, not with urlsplit: an unencoded "/", "?" or "#" in a password ends urlsplit's
    credentials early, and the rest of the password would be shown.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    credentials, at, place = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{separator}{credentials.partition(':')[0]}:***@{place}"


def process_name(hostname: str, pid: int) -> str:
    """The name (CLIENT SETNAME) every connection of a process carries: others see it lives while they do."""
    return f"backroom:{hostname}:{pid}"


def translated[**P, R](method: Callable[P, R]) -> Callable[P, R]:
    """Raise backroom's store errors for Redis's, as the rest of backroom expects of any store."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        except errors.RedisError as exc:
            raise StoreError(f"Redis refused a call: {exc}") from exc

    return wrapper


class RedisStore:
    """One client (one connection pool, or one per cluster node) for every thread of the process."""

    def __init__(self, url: str, prefix: str, *, cluster: bool) -> None:
        self.url = url
        self.cluster = cluster
        self.keys = Keys(prefix)
        self._queues: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._lock = threading.Lock()
        self._connect()

    def _connect(self) -> None:
        """Make the client (in a forked process anew, so that its connections carry its own name)."""
        self._pid = os.getpid()
        options = {**CLIENT_DEFAULTS, "client_name": process_name(socket.gethostname(), self._pid)}
        if self.cluster:
            self._client: Any = redis.cluster.RedisCluster.from_url(
                self.url, decode_responses=True, **options
            )
        else:
            self._client = redis.Redis.from_url(self.url, decode_responses=True, **options)
        self._scripts = Scripts.register(self._client)
        if self.cluster:
            self.load_scripts()

    @property
    def client(self) -> Any:
        if os.getpid() != self._pid:
            self._connect()
        return self._client

    @property
    def scripts(self) -> Scripts:
        if os.getpid() != self._pid:
            self._connect()
        return self._scripts

    def run(self, script: Any, queues: Sequence[str], args: Sequence[Any], client: Any = None) -> Any:
        """Run a script over the keys of ``queues`` (one hash slot on a cluster), or queue it on ``client``,
        a pipeline.

        On a pipeline it goes as a bare EVALSHA: redis-py's own way first asks
        Redis whether the script exists, a round trip more on every pipeline
        (an enqueue took two instead of one). ``pipelined`` loads the scripts
        when one was missing and sends the pipeline again.
        """
        keys = [self.keys.ready(q) for q in queues]
        if client is not None:
            return client.evalsha(script.sha, len(keys), *keys, *args)
        return script(keys=keys, args=list(args))

    def groups(self, queues: Sequence[str]) -> list[list[str]]:
        """Split queues into what one script call can serve: all on one Redis, one slot each on a cluster."""
        if not self.cluster:
            return [list(queues)] if queues else []
        by_slot: dict[int, list[str]] = {}
        for queue in queues:
            by_slot.setdefault(self.keys.slot(queue), []).append(queue)
        return list(by_slot.values())

    def queue_names(self, cached: bool = False) -> frozenset[str]:
        """Every queue that ever had a job; ``cached``: as read within the last QUEUE_LIST_SECONDS."""
        with self._lock:
            read_at, names = self._queues
            if not cached or time.monotonic() - read_at > QUEUE_LIST_SECONDS:
                names = frozenset(self.client.smembers(self.keys.queues))
                self._queues = (time.monotonic(), names)
            return names

    def pipelined(self, build: Callable[[Any], None], *, transaction: bool = False) -> list[Any]:
        """Send the commands ``build`` queues on a pipeline in one round trip (per node); return the replies.

        A pipeline does not ask whether its scripts are loaded (``run``): when a
        node lacks one (Redis restarted, a new node, a promoted replica), every
        script is loaded on every node and the pipeline sent again. That is
        safe because each pipeline runs one script (any number of times)
        beside idempotent commands, and a node lacking it refuses every call of
        it: none of them ran before the pipeline is sent again.
        """
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=transaction)
            try:
                build(pipe)
                return list(pipe.execute())
            except errors.NoScriptError:
                if attempt == 2:
                    raise
                self.load_scripts()
            finally:
                pipe.reset()
        raise AssertionError("unreachable")

    def load_scripts(self) -> None:
        """Load every script on every node (pipelines do not load them on demand)."""
        for script in self._scripts:
            self._client.script_load(script.script)

    @contextmanager
    def pipeline(self) -> Iterator[Any]:
        """A pipeline of independent commands (not a transaction), sent in one round trip per node."""
        pipe = self.client.pipeline(transaction=False)
        try:
            yield pipe
        finally:
            pipe.reset()

    def connected_names(self) -> set[str]:
        """The names of the clients connected to the node holding the store's own keys."""
        if self.cluster:
            node = self.client.get_node_from_key(self.keys.workers)
            clients = self.client.client_list(target_nodes=node)
        else:
            clients = self.client.client_list()
        return {client.get("name", "") for client in clients}

    def delete_all_keys(self) -> int:
        """Delete every key of this store (and no other), one by one (a cluster refuses keys of two slots)."""
        deleted = 0
        for pattern in (f"{{{self.keys.prefix}}}:*", f"{{{self.keys.prefix}:*"):
            for key in self.client.scan_iter(match=pattern, count=1000):
                deleted += self.client.unlink(key)
        return deleted

    def reset(self) -> None:
        """Drop idle connections after an error; in-use ones belong to other threads."""
        if self.cluster:
            for node in self.client.get_nodes():
                node.redis_connection.connection_pool.disconnect(inuse_connections=False)
        else:
            self.client.connection_pool.disconnect(inuse_connections=False)
