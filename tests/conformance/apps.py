from django.apps import AppConfig


class ConformanceConfig(AppConfig):
    """Installed in the conformance suite's worker processes only (tests/conformance/settings.py)."""

    name = "tests.conformance"
    label = "conformance"

    def ready(self) -> None:
        from . import recorder

        recorder.connect()
