"""The holder's name in application_name: what a refused run, psql or staging tooling reads."""
from datetime import UTC, datetime

import pytest

from helpers.run_lock import APP_NAME_MAX_BYTES, holder_name

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 24, 2, 0, 5, tzinfo=UTC)


def test_the_holder_is_named_as_design_says():
    assert (holder_name("upstream", pid=4242, host="ci-runner-7", started=AT)
            == "aura-drill 4242@ci-runner-7 02:00:05Z upstream")


def test_a_long_host_is_cut_so_the_name_fits_63_bytes_and_keeps_the_drill_type():
    name = holder_name("emergency", pid=4242, host="runner-" + "x" * 80 + ".example.internal", started=AT)
    assert len(name.encode()) <= APP_NAME_MAX_BYTES
    assert name.startswith("aura-drill 4242@runner-xx") and name.endswith(" 02:00:05Z emergency")


def test_a_non_ascii_host_is_never_cut_inside_a_character():
    name = holder_name("full", pid=1, host="主机" * 30, started=AT)
    assert len(name.encode()) <= APP_NAME_MAX_BYTES
    name.encode().decode("utf-8")  # whole characters only
    assert name.endswith(" 02:00:05Z full")
