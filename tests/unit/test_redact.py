import pytest

from helpers.redact import MASK, Redactor, one_line, redact_argv

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text, expected", [
    ("postgresql://aura:s3cr%40t@127.0.0.1:18084/aura",
     "postgresql://aura:***@127.0.0.1:18084/aura"),
    ("connect to postgres://aura:p@ss@db/aura failed", "connect to postgres://aura:***@db/aura failed"),
    ("https://deploy-token@git.example.com/repo.git", "https://***@git.example.com/repo.git"),
    ("POST http://127.0.0.1:18083/hooks/Zx_abcdefGH -> 401", "POST http://127.0.0.1:18083/hooks/*** -> 401"),
    ("https://hooks.slack.com/services/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",
     "https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/***"),
    ("https://api.example.com/v1/send?channel=ops&token=abc123&x=1",
     "https://api.example.com/v1/send?channel=ops&token=***&x=1"),
    ("host=db port=5432 password='a b c' dbname=aura", "host=db port=5432 password=*** dbname=aura"),
    ("PGPASSWORD=hunter22 psql", "PGPASSWORD=*** psql"),
    ("rollback.sh --password hunter22 --yes", "rollback.sh --password *** --yes"),
])
def test_patterns_mask_secrets(text, expected):
    assert Redactor().redact(text) == expected


@pytest.mark.parametrize("text", [
    "GET http://127.0.0.1:18080/healthz -> 200",
    "http://127.0.0.1:18080/api/orders/123456",
    "image localhost/aura-api:v1.2.0-bad sha256:0123456789abcdef",
    "/var/tmp/aura-sandbox/nginx/nginx.staging.conf.backup",
    "unix:///var/tmp/aura-sandbox/engine/podman.sock",
    "当前版本 api_v1=localhost/aura-api:stable",
])
def test_ordinary_text_is_left_alone(text):
    assert Redactor().redact(text) == text


def test_registered_literals_are_masked_also_percent_encoded():
    r = Redactor()
    r.register("p@ss word/1")
    text = "password p@ss word/1 in uri p%40ss%20word%2F1"
    assert r.redact(text) == f"password {MASK} in uri {MASK}"


def test_too_short_literals_are_ignored_rather_than_masking_every_letter():
    r = Redactor(["ab", None, ""])
    assert r.redact("table abc") == "table abc"


def test_argv_and_one_line():
    r = Redactor(["Topsecret1"])
    assert redact_argv(["/bin/x", "--dsn", "Topsecret1"], r) == ("/bin/x", "--dsn", MASK)
    assert one_line("a\n  b\tTopsecret1\n", r) == f"a b {MASK}"
    assert one_line("x" * 50, r, limit=10) == "x" * 9 + "…"
