"""Which backend a dashboard request looks at: ``?backend=ALIAS``, else the default one."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest
from django.utils import timezone

from ..brokers.inspection import Inspector
from ..monitoring import default_alias, inspectors
from .access import can_act


@dataclass(frozen=True, slots=True, kw_only=True)
class Store:
    alias: str
    inspector: Inspector
    aliases: list[str]

    def query(self, **params: Any) -> str:
        """A query string keeping the chosen backend (when it is not the default) and ``params``."""
        if self.alias != default_alias(self.aliases):
            params = {"backend": self.alias, **params}
        kept = {key: value for key, value in params.items() if value not in (None, "")}
        return f"?{urlencode(kept)}" if kept else ""


def store_for(request: HttpRequest) -> Store:
    found = inspectors()
    aliases = list(found)
    alias = request.GET.get("backend") or request.POST.get("backend") or default_alias(aliases)
    if alias not in found:
        raise Http404("No backroom backend by that name.")
    return Store(alias=alias, inspector=found[alias], aliases=aliases)


def page_context(request: HttpRequest, store: Store, **extra: Any) -> dict[str, Any]:
    """What every dashboard template uses, plus ``extra``."""
    return {
        "store": store,
        "backend_query": store.query(),
        "can_act": can_act(request),
        "now": timezone.now(),
        **extra,
    }
