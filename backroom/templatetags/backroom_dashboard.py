"""Template helpers of the dashboard: durations read at a glance, and links that keep the backend."""

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone

from ..dashboard.stores import Shown
from ..monitoring import humanize

register = template.Library()

register.filter("duration", humanize.duration)


@register.filter
def ago(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return f"{humanize.duration(max(timedelta(0), timezone.now() - moment))} ago"


@register.simple_tag
def query(store: Shown, **params: Any) -> str:
    """A query string with ``params``, keeping the backend the page shows."""
    return store.query(**params)
