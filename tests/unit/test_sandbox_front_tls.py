"""AURA_SANDBOX_TLS: the sandbox front's HTTPS (the default) or plain HTTP (one side of
bench_drills.py --tls), in the nginx config the sandbox renders and in the layout it reads."""
import pytest

from sandbox.layout import Layout
from sandbox.nginx_process import render_conf_at

pytestmark = pytest.mark.unit


def test_with_a_certificate_the_front_listens_with_tls_and_names_the_certificate():
    conf = render_conf_at("/p", "/p/upstream.conf", 18080, cert="/t/front.pem", key="/t/front.key", cert_id="ab12")
    assert "listen 127.0.0.1:18080 ssl;" in conf
    assert "ssl_certificate /t/front.pem;" in conf and "ssl_certificate_key /t/front.key;" in conf
    assert "# front certificate sha256 ab12" in conf


def test_without_a_certificate_the_front_listens_on_plain_http():
    conf = render_conf_at("/p", "/p/upstream.conf", 18080, cert="", key="")
    assert "listen 127.0.0.1:18080;" in conf
    assert "ssl" not in conf


@pytest.mark.parametrize(("value", "tls"), [(None, True), ("1", True), ("0", False)])
def test_the_layout_reads_the_switch(monkeypatch, value, tls):
    monkeypatch.delenv("AURA_SANDBOX_TLS", raising=False)
    if value is not None:
        monkeypatch.setenv("AURA_SANDBOX_TLS", value)
    assert Layout.from_env().tls is tls


def test_a_bad_switch_is_one_line_naming_it(monkeypatch):
    monkeypatch.setenv("AURA_SANDBOX_TLS", "yes")
    with pytest.raises(ValueError, match=r"^AURA_SANDBOX_TLS='yes' is not 0 or 1$"):
        Layout.from_env()
