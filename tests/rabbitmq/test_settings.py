"""RabbitMQBackend's OPTIONS and its system checks (and the client-library check it shares with Redis)."""

import pytest
from django.core import checks


def _backroom_errors():
    return [m.msg for m in checks.run_checks() if m.id and m.id.startswith("backroom.")]


@pytest.mark.django_db(databases="__all__")
def test_invalid_rabbitmq_options_are_system_check_errors(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "backroom.backends.RabbitMQBackend",
            "OPTIONS": {
                "RABBITMQ_URL": "redis://guest:secret@127.0.0.1:5672/",
                "QUEUE_PREFIX": "has space",
                "DATABASE": "missing",
            },
        }
    }
    messages = _backroom_errors()
    assert any("['RABBITMQ_URL'] must be an amqp:// or amqps:// URL" in m for m in messages)
    assert not any("secret" in m for m in messages)  # the password is never shown
    assert any("['QUEUE_PREFIX'] must be 1 to 100 characters" in m for m in messages)
    assert any("names 'missing', which is not in DATABASES" in m for m in messages)


@pytest.mark.django_db(databases="__all__")
def test_valid_rabbitmq_options_pass_the_checks(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "backroom.backends.RabbitMQBackend",
            "OPTIONS": {"RABBITMQ_URL": "amqps://user:pw@rabbit.example:5671/jobs", "QUEUE_PREFIX": "site"},
        }
    }
    assert _backroom_errors() == []


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("backend", "module", "message"),
    [
        ("RabbitMQBackend", "pika", "uses RabbitMQBackend, but pika is not installed: "),
        ("RedisBackend", "redis", "uses RedisBackend, but redis-py is not installed: "),
    ],
)
def test_a_missing_client_library_is_a_system_check_error(settings, monkeypatch, backend, module, message):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a)
    )
    settings.TASKS = {"default": {"BACKEND": f"backroom.backends.{backend}"}}
    assert any(m.startswith(f"TASKS['default'] {message}") for m in _backroom_errors())
