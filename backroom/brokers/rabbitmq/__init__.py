"""The RabbitMQ store: jobs' state in a SQL database, their dispatch through RabbitMQ quorum queues."""

from .broker import RabbitMQBroker
from .connection import RabbitMQ

__all__ = ["RabbitMQ", "RabbitMQBroker"]
