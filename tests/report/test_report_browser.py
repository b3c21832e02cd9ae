"""The drill report in a real browser: headless Chromium (Debian's `chromium`; `./aura tests`
installs it) renders the page, and the rendered DOM must hold the RTO table, the filled template
and the SVG pictures. pytest-html builds each drill's section in JavaScript from a JSON blob, so
only a browser shows whether the per-drill extras really land on the page.

Screenshots are kept in each test's tmp_path (pytest keeps the last three runs' folders) for a
person to look at; a test run never writes to the project's reports/.
"""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from helpers.report import page
from tests.report import pytest_html_run, synthetic

pytestmark = pytest.mark.e2e

# PLATFORM.md: without the background-networking flags it keeps trying hosts it cannot reach.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-dev-shm-usage")


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no chromium on PATH: `./aura tests` installs Debian's chromium (apt-get install chromium)")


def chromium(tmp: Path, *args: str, url: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    profile.mkdir()
    return subprocess.run([chromium_binary(), *FLAGS, f"--user-data-dir={profile}", *args, url],
                          capture_output=True, text=True, timeout=120)


def rendered(tmp: Path, html_file: Path) -> str:
    done = chromium(tmp, "--virtual-time-budget=5000", "--dump-dom", url=html_file.as_uri())
    assert done.returncode == 0 and "</html>" in done.stdout, done.stderr[-2000:]
    # pytest-html keeps its test data in an attribute: look only at what was rendered
    return re.sub(r'data-jsonblob="[^"]*"', "", done.stdout)


def screenshot(tmp: Path, html_file: Path, out: Path, size: str = "1400,2600") -> tuple[int, int]:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    done = chromium(tmp, f"--window-size={size}", "--virtual-time-budget=5000", f"--screenshot={out}",
                    url=html_file.as_uri())
    assert out.exists(), done.stderr[-2000:]
    header = out.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_pytest_html_report_renders_in_chromium(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    done = pytest_html_run.run(project, "--participants", "Mei,Tom", history=synthetic.previous_history())
    assert done.returncode == 1, done.stdout + done.stderr
    report = project / "reports" / "drill-report.html"
    dom = rendered(tmp_path, report)

    rto = re.search(r'<table class="ar-table ar-rto" id="aura-rto-table">.*?</table>', dom, re.S)
    assert rto, "the RTO table is not on the rendered page"
    assert re.findall(r'data-type="(\w+)" data-status="(\w+)"', rto.group(0)) == [
        ("image", "passed"), ("nginx", "failed"), ("database", "error"), ("upstream", "passed"),
        ("full", "passed")]
    assert 'id="aura-template"' in dom and "Basic information" in dom and "Next drill plan" in dom
    assert "Mei, Tom" in dom
    # the per-drill sections, built by pytest-html's JavaScript from the extras
    sections = set(re.findall(r'<section class="aura-drill ar-drill-\w+" id="[^"]+" data-drill="([^"]+)"', dom))
    assert len(sections) == 6, sections
    timelines = re.findall(r'<svg class="ar-timeline"', dom)
    assert len(timelines) >= 6
    assert len(re.findall(r'<svg class="ar-trend"', dom)) == 5
    assert re.search(r'<rect class="ar-sample ar-sample-wrong"', dom)
    assert "Troubleshooting attachments" in dom
    assert synthetic.SECRET not in dom and "<script>alert" not in dom
    # pytest-html's own parts are still there: the results table and the environment
    assert 'id="results-table"' in dom and "Drill target" in dom

    width, height = screenshot(tmp_path, report, tmp_path / "screenshots" / "drill-report-screenshot.png")
    assert (width, height) == (1400, 2600)


def test_chinese_standalone_page_renders_in_chromium(tmp_path: Path):
    html = page.document(synthetic.run_context("zh"), finished_at=synthetic.FINISHED,
                         history_entries=synthetic.previous_history())
    file = tmp_path / "drill-report-zh.html"
    file.write_text(html, encoding="utf-8")
    dom = rendered(tmp_path, file)
    assert 'id="aura-rto-table"' in dom and "演练时间目标" in dom and "目标时间 (RTO)" in dom
    assert "演练基本信息" in dom and "下次演练计划" in dom and "演练检查清单" in dom
    assert len(re.findall(r'<svg class="ar-timeline"', dom)) == 6
    assert len(re.findall(r"<title id=", dom)) >= 11  # every picture is titled
    screenshot(tmp_path, file, tmp_path / "screenshots" / "drill-report-zh-screenshot.png", size="1400,3200")
