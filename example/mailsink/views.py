from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import outbox


def outbox_page(request: HttpRequest) -> HttpResponse:
    """List what the sink received, newest first."""
    messages = outbox.read(settings.MAILSINK_OUTBOX)[::-1]
    return render(request, "mailsink/outbox.html", {"messages": messages})
