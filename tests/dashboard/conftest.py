import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client


def _client(**fields) -> Client:
    """A client logged in as a new user with ``fields``; ``act=True`` adds backroom.change_job,
    ``view=True`` backroom.view_job."""
    act = fields.pop("act", False)
    view = fields.pop("view", False)
    user = User.objects.create_user(username=fields.pop("username"), password="pw", **fields)
    for codename, wanted in (("change_job", act), ("view_job", view)):
        if wanted:
            user.user_permissions.add(
                Permission.objects.get(codename=codename, content_type__app_label="backroom")
            )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(db):
    """A staff member who may act on jobs (and so view them)."""
    return _client(username="operator", is_staff=True, act=True)


@pytest.fixture
def viewer(db):
    """A staff member with backroom.view_job only: may look, may not act."""
    return _client(username="viewer", is_staff=True, view=True)


@pytest.fixture
def staff(db):
    """A staff member without any backroom permission: may not even look."""
    return _client(username="staff", is_staff=True)


@pytest.fixture
def outsider(db):
    """A logged-in user who is not staff."""
    return _client(username="outsider", act=True)
