"""The dashboard's users and stores, for the metrics endpoint too."""

from tests.dashboard.conftest import outsider, store, viewer  # noqa: F401 - fixtures
