"""``KeyAuth`` renews a token a little before its end: 60 s before for long tokens, a fifth of the
life for short ones (a 30 s token is not exchanged again at every request)."""

from __future__ import annotations

import httpx
import pytest

from bazaar_core.client_auth import KeyAuth

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def answer(token: str, lives_s: int) -> httpx.Response:
    return httpx.Response(200, json={"access_token": token, "expires_in": lives_s, "token_type": "bearer"})


@pytest.mark.parametrize(("lives_s", "renews_after_s"), [(900, 840), (300, 240), (30, 24), (5, 4)])
def test_a_token_is_kept_until_a_little_before_its_end(lives_s, renews_after_s):
    clock = Clock()
    auth = KeyAuth("http://127.0.0.1:1", "bz_key", clock=clock)
    assert not auth._fresh()
    assert auth._take(answer("t1", lives_s)) == "t1"
    clock.t += renews_after_s - 0.01
    assert auth._fresh()
    clock.t += 0.02
    assert not auth._fresh()


def test_a_refused_exchange_says_what_the_api_answered():
    auth = KeyAuth("http://127.0.0.1:1", "bz_key", clock=Clock())
    with pytest.raises(Exception, match="answered 401"):
        auth._take(httpx.Response(401, json={"detail": "unknown key"}))
    assert auth.token is None
