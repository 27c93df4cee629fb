"""The dashboard's users, for the metrics endpoint too."""

from tests.dashboard.conftest import outsider, staff, viewer  # noqa: F401 - fixtures
