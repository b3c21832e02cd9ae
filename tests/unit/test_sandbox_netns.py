"""The hosts layout's addresses (sandbox/netns.py): one /24 picked from the port base, free of
every route but the default one, names short enough for interfaces. Pure functions: no `ip`."""
from __future__ import annotations

import ipaddress

import pytest

from sandbox.errors import SandboxError
from sandbox.netns import pick_subnet, short_prefix

pytestmark = pytest.mark.unit


def test_the_subnet_follows_the_port_base_and_skips_routes_that_overlap():
    first = pick_subnet(18080, [])
    assert first == ipaddress.ip_network("10.71.16.0/24")
    assert pick_subnet(18080, []) == first                      # deterministic
    assert pick_subnet(18090, []) != first                      # the next block of ten: another /24
    taken = [ipaddress.ip_network("10.71.0.0/16")]
    other = pick_subnet(18080, taken)
    assert other != first and not any(other.overlaps(r) for r in taken)


def test_no_free_subnet_is_one_line_naming_the_port_base():
    with pytest.raises(SandboxError, match=r"no free /24 .*AURA_SANDBOX_PORT_BASE=18080"):
        pick_subnet(18080, [ipaddress.ip_network("10.0.0.0/8")])


@pytest.mark.parametrize("prefix", ["aura-api", "aura-hn", "aura-hn-forward-drills", "x" * 40])
def test_interface_names_fit_in_fifteen_bytes(prefix):
    p = short_prefix(prefix)
    assert len(f"{p}-bo") <= 15 and len(f"{p}-stg") <= 15
    assert short_prefix(prefix) == p
    if len(prefix) <= 12:
        assert p == prefix
