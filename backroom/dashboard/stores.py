"""Which store a dashboard request looks at: ``?backend=ALIAS``, else the default one."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest
from django.utils import timezone

from ..backends.stores import default_alias, stores
from ..brokers.contract import Inspector
from ..store import Store
from .access import can_act


@dataclass(frozen=True, slots=True, kw_only=True)
class Shown:
    """The store a page shows, among the backroom stores the project has."""

    store: Store
    aliases: list[str]

    @property
    def alias(self) -> str:
        return self.store.alias

    @property
    def inspector(self) -> Inspector:
        return self.store.inspector

    def query(self, **params: Any) -> str:
        """A query string keeping the chosen backend (when it is not the default) and ``params``."""
        if self.alias != default_alias(self.aliases):
            params = {"backend": self.alias, **params}
        kept = {key: value for key, value in params.items() if value not in (None, "")}
        return f"?{urlencode(kept)}" if kept else ""


def shown_for(request: HttpRequest) -> Shown:
    found = stores()
    aliases = list(found)
    alias = request.GET.get("backend") or request.POST.get("backend") or default_alias(aliases)
    if alias not in found:
        raise Http404("No backroom backend by that name.")
    return Shown(store=found[alias], aliases=aliases)


def page_context(request: HttpRequest, shown: Shown, **extra: Any) -> dict[str, Any]:
    """What every dashboard template uses, plus ``extra``."""
    return {
        "store": shown,
        "backend_query": shown.query(),
        "can_act": can_act(request),
        "now": timezone.now(),
        **extra,
    }
