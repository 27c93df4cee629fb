"""The one form that creates and edits database schedules.

The admin, the dashboard and ``backroom import-schedules`` all validate
through it, so a schedule is checked as declared ones are (``registry``:
cron, interval, timezone, JSON arguments that fit a real ``@task``) and may
not take a declared schedule's name, with each fault shown by its field.
"""

from typing import Any

from django import forms

from ..models import StoredSchedule
from .declaration import Missed
from .registry import declared
from .stored import as_schedule, stored_faults

MISSED_CHOICES = [
    (Missed.LATEST.value, "latest: run the latest missed slot once"),
    (Missed.SKIP.value, "skip: run no missed slot"),
    (Missed.ALL.value, "all: run every missed slot, up to the limit"),
]


class ScheduleForm(forms.ModelForm):  # type: ignore[type-arg]
    """Create or edit a database schedule, refusing what would not run."""

    missed = forms.ChoiceField(
        choices=MISSED_CHOICES,
        initial=Missed.LATEST.value,
        help_text="What to do with slots that passed while no scheduler ran, or while paused.",
    )

    class Meta:
        model = StoredSchedule
        fields = [
            "name", "task", "cron", "interval", "timezone", "args", "kwargs",
            "queue_name", "priority", "backend", "missed", "missed_limit", "enabled",
        ]  # fmt: skip
        widgets = {"args": forms.Textarea(attrs={"rows": 2}), "kwargs": forms.Textarea(attrs={"rows": 2})}

    def clean_args(self) -> Any:
        return [] if self.cleaned_data["args"] is None else self.cleaned_data["args"]

    def clean_kwargs(self) -> Any:
        return {} if self.cleaned_data["kwargs"] is None else self.cleaned_data["kwargs"]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if self.errors:
            return data  # the schedule is only checked as a whole once each field holds
        candidate = StoredSchedule(**{name: data[name] for name in self.fields})
        for fault in stored_faults(as_schedule(candidate), declared().schedules):
            self.add_error(fault.field if fault.field in self.fields else None, fault.message)
        return data
