"""A configured job store: what the worker, scheduler, dashboard, metrics and CLI use of a backend.

They never see Django's backend object, only this: the store's broker and
inspector, the settings they obey, and how to build its jobs.
"""

from dataclasses import dataclass

from .brokers.contract import Broker, Inspector
from .conf import BackendSettings
from .jobs.building import JobFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class Store:
    alias: str  # the TASKS alias of the backend
    settings: BackendSettings
    broker: Broker
    inspector: Inspector
    jobs: JobFactory
    #: The backend class, which Django's task signals name as their sender.
    sender: type
    #: The queues the backend declares (QUEUES); empty: any queue name.
    queues: frozenset[str]
    #: The kind of store, for people: "database 'default' (postgresql)", "Redis at ...".
    description: str
