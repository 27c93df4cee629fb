"""Two views for the request cost: one enqueues one no-op job, the other does nothing else."""

import os

from django.http import HttpRequest, HttpResponse


def nothing(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def enqueue(request: HttpRequest) -> HttpResponse:
    ENQUEUERS[os.environ.get("BENCH_VIEW_ENQUEUE", "django")]()
    return HttpResponse("ok")


def _django() -> None:
    from .tasks import noop

    noop.enqueue()


def _celery() -> None:
    from celery_app import noop

    noop.delay()


def _rq() -> None:
    from rq_tasks import noop, queue

    queue().enqueue(noop)


def _procrastinate() -> None:
    from procrastinate_tasks import noop

    noop.defer()


ENQUEUERS = {"django": _django, "celery": _celery, "rq": _rq, "procrastinate": _procrastinate}
