"""Status tokens name one result of one backend, and nothing else can be read with them."""

from django.core import signing

from backroom import status_token
from backroom.status.tokens import SALT, read_status_token
from tests import tasks


def test_token_round_trips_the_result_and_backend(store):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    grant = read_status_token(status_token(result))
    assert (grant.result_id, grant.backend, grant.expose_return_value) == (result.id, store, False)
    assert read_status_token(status_token(result, expose_return_value=True)).expose_return_value is True


def test_altered_tokens_are_refused(store):
    token = status_token(tasks.add.using(backend=store).enqueue(1, 2))
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    assert read_status_token(flipped) is None
    assert read_status_token(token + "x") is None
    assert read_status_token("") is None
    assert read_status_token("not-a-token") is None


def test_a_token_signed_for_another_purpose_or_key_is_refused(store, settings):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    payload = {"id": result.id, "backend": store}
    assert read_status_token(signing.dumps(payload)) is None  # no salt: another use of SECRET_KEY
    assert read_status_token(signing.dumps(payload, salt=SALT, key="another key")) is None
    assert read_status_token(signing.dumps(payload, salt=SALT)) is not None


def test_a_signed_payload_of_the_wrong_shape_is_refused():
    assert read_status_token(signing.dumps(["id", "backend"], salt=SALT)) is None
    assert read_status_token(signing.dumps({"id": 7, "backend": "default"}, salt=SALT)) is None
