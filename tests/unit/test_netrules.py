"""Cases of the webhook address rules (``domain.netrules``) beyond tests/unit/test_access_rules.py:
IPv6 loopback is loopback (refused, or taken when private receivers are allowed), not "reserved"."""

from __future__ import annotations

import pytest

from domain.netrules import RefusedUrl, check_addresses, refusal

pytestmark = pytest.mark.unit


def test_ipv6_loopback_is_loopback():
    assert refusal("::1", allow_private=False) == "::1 is a loopback address"
    assert refusal("::1", allow_private=True) is None
    assert refusal("::ffff:127.0.0.1", allow_private=False) == "127.0.0.1 is a loopback address"


def test_localhost_with_both_families_is_one_receiver_when_private_ones_are_allowed():
    check_addresses(["127.0.0.1", "::1"], allow_private=True)  # "localhost" on most machines
    with pytest.raises(RefusedUrl, match="loopback"):
        check_addresses(["127.0.0.1", "::1"], allow_private=False)


@pytest.mark.parametrize("address", ["::", "0.0.0.0", "100::1", "240.0.0.1", "ff02::1"])
def test_no_receiver_at_all_even_when_private_ones_are_allowed(address):
    assert "not a unicast address" in (refusal(address, allow_private=True) or "")
