"""tests/sandbox_ids.py: every extra sandbox derives its identity from the run's AURA_SANDBOX_*,
keeps to its checkout's ports, and with nothing set is what it always was."""
from __future__ import annotations

import pytest

from tests.sandbox_ids import EXTRAS, PORT_SPAN, cache_env, extra, runner_account, scratch_path

pytestmark = pytest.mark.unit

RUN = {"AURA_SANDBOX_STATE": "/var/tmp/aura-h9", "AURA_SANDBOX_PORT_BASE": "40000",
       "AURA_SANDBOX_PREFIX": "aura-h9", "AURA_SANDBOX_IMAGE_REPOSITORY": "aura-h9-api",
       "AURA_SANDBOX_CACHE": "/var/tmp/aura-h9-cache"}
SHARED_ON_PURPOSE = {frozenset({"hosts", "hosts-bad"})}  # the refused `up`s start nothing on the block


def test_every_block_of_ten_is_inside_the_checkouts_ports_and_its_own():
    blocks: dict[int, set[str]] = {}
    for name, spec in EXTRAS.items():
        assert spec.offset > 0 and spec.offset + 10 <= PORT_SPAN, name  # base+0..+9: the run's own
        assert spec.offset % 10 == 0, name
        blocks.setdefault(spec.offset, set()).add(name)
    shared = [frozenset(names) for names in blocks.values() if len(names) > 1]
    assert set(shared) <= SHARED_ON_PURPOSE, shared


def test_with_nothing_set_the_names_and_ports_are_the_historical_ones():
    assert extra("life", {}).env() == {"AURA_SANDBOX_STATE": "/var/tmp/aura-t-life", "AURA_SANDBOX_PORT_BASE": "18480",
                                       "AURA_SANDBOX_PREFIX": "aura-life", "AURA_SANDBOX_IMAGE_REPOSITORY": "aura-api"}
    wf = extra("workflow", {})
    assert (wf.state, wf.port_base, wf.prefix, wf.image_repository) == \
        ("/var/tmp/aura-wf-sandbox", 19480, "aura-wf", "aura-api-wf")
    assert runner_account({}) == "aura-ci-runner" and cache_env({}) == {}
    assert scratch_path("scripts-no-engine.sock", {}) == "/var/tmp/aura-scripts-no-engine.sock"


def test_two_checkouts_share_no_state_port_prefix_or_account():
    other = {"AURA_SANDBOX_STATE": "/var/tmp/aura-h8", "AURA_SANDBOX_PORT_BASE": "42000",
             "AURA_SANDBOX_PREFIX": "aura-h8", "AURA_SANDBOX_IMAGE_REPOSITORY": "aura-h8-api"}
    for name in EXTRAS:
        mine, theirs = extra(name, RUN), extra(name, other)
        assert mine.state == f"/var/tmp/aura-h9-{name}" and mine.prefix == f"aura-h9-{name}"
        assert 40000 < mine.port_base < 40000 + PORT_SPAN
        assert {mine.state, mine.prefix} & {theirs.state, theirs.prefix} == set()
        assert abs(mine.port_base - theirs.port_base) >= 10
    assert extra("images", RUN).image_repository == "aura-h9-api"  # the run's own: same build hashes
    assert extra("workflow", RUN).image_repository == "aura-h9-api-wf"  # a fresh clone's: its own
    assert runner_account(RUN) == "aura-h9-ci-runner" != runner_account(other)
    assert cache_env(RUN) == {"AURA_SANDBOX_CACHE": "/var/tmp/aura-h9-cache"}


def test_an_account_name_stays_within_useradds_limit():
    assert len(runner_account({"AURA_SANDBOX_PREFIX": "a-very-long-prefix-for-a-checkout"})) == 32
