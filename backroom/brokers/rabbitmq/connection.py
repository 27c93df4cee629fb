"""RabbitMQ through pika: one connection per thread, quorum queues, confirmed publishes; errors end here.

pika's BlockingConnection is not thread-safe, so each thread (a web
request's, the worker loop's, the wake-up listener's) has its own, made on
first use and again after an error. A message's delivery tag belongs to the
channel that fetched it: ``Delivery`` remembers which, so a tag from before
a reconnection is never acked on the new channel.

A lane is one priority of one backroom queue: quorum queues have no
priorities, so each priority a queue's jobs use gets its own quorum queue,
and workers fetch from the highest lane first.
"""

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPConnectionError, AMQPError, ChannelClosed, UnroutableError

from ...exceptions import StoreUnavailable

logger = logging.getLogger(__name__)

#: Persistent messages: a quorum queue keeps them on disk whatever this says, but say it.
PERSISTENT = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
#: A worker's wake-up queue keeps only the latest message: it says "look", never which job.
WAKE_QUEUE_ARGUMENTS = {"x-max-length": 1, "x-overflow": "drop-head"}


#: A backroom queue's name and one priority of its jobs: one quorum queue.
Lane = tuple[str, int]


def routing_key(lane: Lane) -> str:
    """The priority first: it holds no ":", so the backroom queue name is whatever follows the first."""
    queue_name, priority = lane
    return f"{priority}:{queue_name}"


def lane_of(key: str) -> Lane:
    priority, _, queue_name = key.partition(":")
    return queue_name, int(priority)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message fetched from a queue and not yet acked: the channel it came on, and its tag."""

    channel: BlockingChannel
    tag: int
    job_id: str


class RabbitMQ:
    """The RabbitMQ of one backend: its URL, and the prefix of its exchange and queues."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        #: One topic exchange routes each job's message to its lane's queue, and a copy to every
        #: listening worker's wake-up queue (bound with "#").
        self.exchange = f"{prefix}.jobs"
        self._local = threading.local()
        #: Every lane whose quorum queue this process declared.
        self.declared: set[Lane] = set()

    def queue(self, lane: Lane) -> str:
        """The durable quorum queue that carries the dispatch of one lane."""
        queue_name, priority = lane
        return f"{self.prefix}.{queue_name}.p{priority}"

    @contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn pika's errors (and a lost socket's) into StoreUnavailable; drop the broken connection."""
        try:
            yield
        except (AMQPError, OSError) as exc:
            self.reset()
            raise StoreUnavailable(f"Could not {doing}: RabbitMQ is unavailable: {exc!r}") from exc

    def channel(self) -> BlockingChannel:
        """This thread's channel, in confirm mode, connecting first if needed."""
        channel = getattr(self._local, "channel", None)
        if channel is not None and channel.is_open:
            return channel
        self.reset()
        parameters = pika.URLParameters(self.url)
        connection = pika.BlockingConnection(parameters)
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare(self.exchange, "topic", durable=True)
        self._local.connection = connection
        self._local.channel = channel
        self._local.queues = set()
        return channel

    def _declared(self, channel: BlockingChannel, lane: Lane) -> str:
        """Declare a lane's quorum queue and its binding, once per connection."""
        name = self.queue(lane)
        if lane not in self._local.queues:
            channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
            channel.queue_bind(name, self.exchange, routing_key=routing_key(lane))
            self._local.queues.add(lane)
            self.declared.add(lane)
        return name

    def publish(self, messages: Sequence[tuple[Lane, str]]) -> None:
        """Publish (lane, job id) messages, each confirmed by RabbitMQ before the next.

        A connection kept from before a RabbitMQ restart fails at its first
        use: then once more on a new one (a message published twice still
        runs once: the claim guard drops the second).
        """
        with self.errors(f"publish {len(messages)} jobs"):
            kept = getattr(self._local, "channel", None) is not None
            try:
                self._publish_all(messages)
            except (AMQPConnectionError, ChannelClosed, OSError):
                if not kept:
                    raise
                self.reset()
                self._publish_all(messages)

    def _publish_all(self, messages: Sequence[tuple[Lane, str]]) -> None:
        """``mandatory``: a message no queue took raises instead of vanishing."""
        channel = self.channel()
        for lane, job_id in messages:
            self._declared(channel, lane)
            try:
                self._publish_one(channel, lane, job_id)
            except UnroutableError:  # its queue was deleted since this connection declared it
                self._local.queues.discard(lane)
                self._declared(channel, lane)
                self._publish_one(channel, lane, job_id)

    def _publish_one(self, channel: BlockingChannel, lane: Lane, job_id: str) -> None:
        channel.basic_publish(self.exchange, routing_key(lane), job_id.encode(), PERSISTENT, mandatory=True)

    def fetch(self, lane: Lane) -> Delivery | None:
        """Take the next message of a lane, unacked: RabbitMQ hands it out again if this connection dies."""
        with self.errors(f"fetch from queue {lane[0]!r}"):
            channel = self.channel()
            method, _, body = channel.basic_get(self._declared(channel, lane))
        if method is None:
            return None
        return Delivery(channel, method.delivery_tag, body.decode(errors="replace"))

    def waiting(self, lane: Lane) -> int:
        """How many messages of a lane wait for a worker (not those fetched and unacked)."""
        with self.errors(f"count the messages of queue {lane[0]!r}"):
            channel = self.channel()
            return channel.queue_declare(self._declared(channel, lane), passive=True).method.message_count

    def settle(self, deliveries: Sequence[Delivery], *, requeue: bool | None) -> None:
        """Ack (``requeue`` None) or hand back messages; those of a dead channel are already back."""
        with self.errors(f"settle {len(deliveries)} messages"):
            for delivery in deliveries:
                if not delivery.channel.is_open:
                    continue
                if requeue is None:
                    delivery.channel.basic_ack(delivery.tag)
                else:
                    delivery.channel.basic_nack(delivery.tag, requeue=requeue)

    def listen(self, wake: Callable[[Lane], None], stop: threading.Event) -> None:
        """Call ``wake(lane)`` for each job published, until ``stop`` is set (this thread's own queue)."""

        def woken(channel: Any, method: Any, properties: Any, body: bytes) -> None:
            wake(lane_of(method.routing_key))

        with self.errors("listen for new jobs"):
            channel = self.channel()
            queue = channel.queue_declare(
                "", exclusive=True, auto_delete=True, arguments=WAKE_QUEUE_ARGUMENTS
            )
            channel.queue_bind(queue.method.queue, self.exchange, routing_key="#")
            channel.basic_consume(queue.method.queue, woken, auto_ack=True)
            while not stop.is_set():
                channel.connection.process_data_events(time_limit=0.5)

    def delete_queues(self, lanes: Sequence[Lane]) -> None:
        """Delete these lanes' quorum queues (tests, and removing a queue for good)."""
        with self.errors("delete queues"):
            channel = self.channel()
            for lane in lanes:
                channel.queue_delete(self.queue(lane))
                self._local.queues.discard(lane)
                self.declared.discard(lane)

    def reset(self) -> None:
        """Drop this thread's connection: RabbitMQ hands its unacked messages to other consumers at once."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = self._local.channel = None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (AMQPError, OSError) as exc:
                logger.debug("closing a RabbitMQ connection failed: %s", exc)
