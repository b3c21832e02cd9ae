"""The drill suite's root: its fixtures as plugins, its command-line options, report defaults."""
from pathlib import Path

import pytest

from fixtures.stash_keys import reports_dir
from helpers.config import ConfigError, read_toml

pytest_plugins = [
    "fixtures.progress",  # first: the others import it
    "fixtures.target",
    "fixtures.snapshot",
    "fixtures.preflight",
    "fixtures.preflight_only",  # after fixtures.target: its run loop is asked first
    "fixtures.probe",
    "fixtures.rpo",
    "fixtures.faults",
    "fixtures.drill",
    "fixtures.results_plugin",
    "fixtures.report_plugin",
    "fixtures.cancel",
]


def pytest_addoption(parser):
    group = parser.getgroup("drills", "rollback drills")
    group.addoption("--drill-config", metavar="FILE", default=None,
                    help="target config (TOML). Without [target] it overlays the sandbox's config; "
                         "omitted: drill the embedded sandbox")
    group.addoption("--allow-production", action="store_true", default=False,
                    help="allow drills against a target whose environment is production")
    group.addoption("--participants", metavar="NAMES", default=None,
                    type=lambda s: [p.strip() for p in s.split(",") if p.strip()],
                    help="comma-separated participants for the report (default: [report] participants)")
    group.addoption("--report-language", choices=("en", "zh"), default=None,
                    help="language of the drill report (default: [report] language)")
    group.addoption("--lock-wait", metavar="SECONDS", type=float, default=0.0,
                    help="wait this long for another run's hold on the target to end (default 0: "
                         "refuse at once, naming the holder)")
    group.addoption("--state-dir", metavar="DIR", default=None,
                    help="journals and snapshot copies (default: $AURA_DRILL_STATE_DIR, else the "
                         "project's .drill-state/); keep it between nightly runs")
    group.addoption("--preflight-only", action="store_true", default=False,
                    help="a first run that touches nothing: resolve and reach the target, take and release "
                         "the run lock, run the before-drill checklist (no alert, no restore), print each "
                         "selected drill's plan; exit 0 when it can be drilled, 4 with every problem")
    group.addoption("--reports-dir", metavar="DIR", default=None,
                    help="folder for every output of the run: drill-report.html, junit.xml, "
                         "drill-results.json, rollback-drill.log, history.jsonl (created if missing; "
                         "default: the project's reports/; explicit --html / --junitxml still win)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # A config file that does not exist or is not TOML is a usage error before anything runs.
    given = config.getoption("drill_config")
    if given:
        try:
            read_toml(given)
        except ConfigError as e:
            raise pytest.UsageError(f"--drill-config: {e}") from None
    reports = reports_dir(config)  # resolved, created and checked once, for every output
    # Drill runs write the reviewers' report and the JUnit XML by default (DESIGN.md "Outputs");
    # an explicit --html or --junitxml wins, each on its own.
    if any(Path(a.split("::")[0]).resolve().is_relative_to(Path(__file__).parent / "drills")
           for a in config.args):
        if getattr(config.option, "htmlpath", None) is None:
            config.option.htmlpath = str(reports / "drill-report.html")
            config.option.self_contained_html = True
        if getattr(config.option, "xmlpath", None) is None:
            config.option.xmlpath = str(reports / "junit.xml")
