"""The access model's pure rules: roles and scopes, grants, rate limits, webhook address rules.
(The address rules are tested as pure functions: no test sends anything to such an address.)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.access import ALL_STORES, ROLE_PERMISSIONS, Permission, Principal, Role, decide, may_grant
from domain.netrules import RefusedUrl, check_addresses, check_url, refusal
from domain.ratelimit import Buckets, Limit

pytestmark = pytest.mark.unit


def who(role: Role, stores=("lahore-007",)) -> Principal:
    return Principal(sub="k1", name="test", role=role, stores=stores)


def test_the_role_table():
    P = Permission
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert P.CATALOG_WRITE not in ROLE_PERMISSIONS[Role.OWNER] and P.WEBHOOKS_MANAGE in ROLE_PERMISSIONS[Role.OWNER]
    assert P.WEBHOOKS_MANAGE not in ROLE_PERMISSIONS[Role.MANAGER] and P.CREDENTIALS_MANAGE not in ROLE_PERMISSIONS[Role.MANAGER]
    assert ROLE_PERMISSIONS[Role.CASHIER] == {P.EVENTS_SALE, P.EVENTS_RETURN, P.EVENTS_COUNT, P.STOCK_READ, P.CATALOG_READ}
    assert ROLE_PERMISSIONS[Role.TERMINAL] == {P.EVENTS_SALE, P.EVENTS_RETURN, P.STOCK_READ, P.CATALOG_READ}
    assert P.STOCK_READ not in ROLE_PERMISSIONS[Role.ANALYST] and P.REPORTS_READ in ROLE_PERMISSIONS[Role.ANALYST]
    assert ROLE_PERMISSIONS[Role.OPS] == {P.OPS_READ}


@given(st.sampled_from(list(Role)), st.sampled_from(list(Permission)), st.sampled_from(["lahore-007", "karachi-001"]))
def test_decide_is_role_and_scope(role, permission, store):
    d = decide(who(role), permission, store)
    assert d.allowed == (permission in ROLE_PERMISSIONS[role] and store == "lahore-007")
    assert d.allowed or d.reason
    assert decide(who(role, ALL_STORES), permission, store).allowed == (permission in ROLE_PERMISSIONS[role])


def test_scoped_listing_sees_its_own_stores_only():
    assert who(Role.ANALYST).visible(["karachi-001", "lahore-007"]) == ["lahore-007"]
    assert who(Role.ANALYST, ALL_STORES).visible(["a", "b"]) == ["a", "b"]


@pytest.mark.parametrize(
    "granter, role, stores, ok",
    [
        (Role.ADMIN, Role.ADMIN, ALL_STORES, True),
        (Role.OWNER, Role.MANAGER, ("lahore-007",), True),
        (Role.OWNER, Role.MANAGER, ("karachi-001",), False),  # not the owner's store
        (Role.OWNER, Role.ADMIN, ALL_STORES, False),
        (Role.OWNER, Role.TERMINAL, ("lahore-007",), True),
        (Role.MANAGER, Role.TERMINAL, ("lahore-007",), True),
        (Role.MANAGER, Role.OWNER, ("lahore-007",), False),
        (Role.CASHIER, Role.TERMINAL, ("lahore-007",), False),
        (Role.ADMIN, Role.TERMINAL, ("a", "b"), False),  # a device is for one store
    ],
)
def test_who_may_grant_what(granter, role, stores, ok):
    assert may_grant(who(granter, ALL_STORES if granter is Role.ADMIN else ("lahore-007",)), role, stores).allowed is ok


def test_token_bucket_bursts_then_refills():
    b = Buckets(Limit(rate=20, burst=40))
    assert all(b.take("t", 0.0) == 0.0 for _ in range(40))
    wait = b.take("t", 0.0)
    assert wait == pytest.approx(0.05)
    assert b.take("t", 0.05) == 0.0  # one token back after 1/20 s
    assert b.take("other", 0.05) == 0.0  # keys are independent


def test_bucket_memory_is_bounded():
    b = Buckets(Limit(rate=1, burst=1), most_keys=3)
    for i in range(10):
        b.take(f"k{i}", float(i))
    assert len(b._state) == 3


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1%eth0",
        "100.64.0.1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
    ],
)
def test_internal_addresses_are_refused(address):
    assert refusal(address, allow_private=False) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert refusal(address, allow_private=False) is None


def test_private_receivers_only_when_allowed():
    assert refusal("127.0.0.1", allow_private=True) is None
    assert refusal("0.0.0.0", allow_private=True) is not None  # never a receiver
    with pytest.raises(RefusedUrl, match="ALLOW_PRIVATE"):
        check_addresses(["93.184.215.14", "10.0.0.5"], allow_private=False)  # one bad answer refuses the name
    with pytest.raises(RefusedUrl):
        check_addresses([], allow_private=True)


@pytest.mark.parametrize(
    "url, allow_http, ok",
    [
        ("https://hooks.example.com/x", False, True),
        ("http://hooks.example.com/x", False, False),
        ("http://hooks.example.com/x", True, True),
        ("ftp://hooks.example.com/", True, False),
        ("https://user:pw@hooks.example.com/", False, False),
        ("https:///nohost", False, False),
        ("https://h:99999/", False, False),
    ],
)
def test_url_rules(url, allow_http, ok):
    if ok:
        assert check_url(url, allow_http)[0] == "hooks.example.com"
    else:
        with pytest.raises(RefusedUrl):
            check_url(url, allow_http)
