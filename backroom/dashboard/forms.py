"""The job list's filters: every value validated here, then passed to the store as data."""

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from ..brokers.inspection import JobFilter
from ..jobs.records import JobStatus

ID_PREFIX = re.compile(r"^[0-9a-fA-F-]{1,36}$")


class JobFilterForm(forms.Form):
    queue = forms.CharField(required=False, max_length=64)
    task = forms.CharField(required=False, max_length=255)
    status = forms.ChoiceField(
        required=False, choices=[("", "any status"), *((s.value, s.label) for s in JobStatus)]
    )
    since = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Enqueued from"
    )
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="until"
    )
    id = forms.CharField(required=False, max_length=36, label="Job id")

    def clean_id(self) -> str:
        value: str = self.cleaned_data["id"].strip()
        if value and not ID_PREFIX.match(value):
            raise ValidationError("A job id (or its beginning) has only hex digits and dashes.")
        return value

    def to_filter(self) -> JobFilter:
        """The filter to list with; call after is_valid()."""
        data: dict[str, Any] = self.cleaned_data
        return JobFilter(
            queue_name=data["queue"] or None,
            task=data["task"] or None,
            status=JobStatus(data["status"]) if data["status"] else None,
            enqueued_after=data["since"],
            enqueued_before=data["until"],
            id_prefix=data["id"] or None,
        )
