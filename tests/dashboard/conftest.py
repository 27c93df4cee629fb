import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client


def _client(**fields) -> Client:
    """A client logged in as a new user with ``fields``; ``act=True`` adds backroom.change_job."""
    act = fields.pop("act", False)
    user = User.objects.create_user(username=fields.pop("username"), password="pw", **fields)
    if act:
        user.user_permissions.add(
            Permission.objects.get(codename="change_job", content_type__app_label="backroom")
        )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(db):
    """A staff member who may act on jobs."""
    return _client(username="operator", is_staff=True, act=True)


@pytest.fixture
def viewer(db):
    """A staff member without backroom.change_job: may look, may not act."""
    return _client(username="viewer", is_staff=True)


@pytest.fixture
def outsider(db):
    """A logged-in user who is not staff."""
    return _client(username="outsider", act=True)


@pytest.fixture
def store(sql_store):
    """Only the SQL stores implement the Inspector interface so far; Redis joins when it does."""
    return sql_store
