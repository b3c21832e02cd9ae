"""The workflow runner of tests/workflow on small workflows, and the nightly workflow's own shape."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.workflow.actions_runner import JobRun, WorkflowError, evaluate, load_job, substitute

pytestmark = pytest.mark.unit

NIGHTLY = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "nightly-drill.yml"
CONTEXTS = {"github": {"workspace": "/w", "run_id": "9", "event": {}},
            "vars": {"PEOPLE": "Ana"}, "secrets": {}}


def test_or_takes_the_first_truthy_operand_and_a_missing_key_is_null():
    assert evaluate("github.event.inputs.participants || vars.PEOPLE", CONTEXTS) == "Ana"
    assert evaluate("secrets.MISSING", CONTEXTS) is None
    assert evaluate("secrets.MISSING || 'fallback'", CONTEXTS) == "fallback"


def test_an_unknown_context_or_expression_is_an_error_naming_it():
    with pytest.raises(WorkflowError, match="unknown context 'env2'"):
        evaluate("env2.X", CONTEXTS)
    with pytest.raises(WorkflowError, match="only context names"):
        evaluate("contains(github.ref, 'main')", CONTEXTS)


def test_substitute_fills_each_expression_and_renders_null_as_empty():
    assert substitute("key-${{ github.run_id }}-${{ secrets.NONE }}.", CONTEXTS) == "key-9-."


def _job(tmp_path: Path, steps: list[dict], source: Path | None = None) -> JobRun:
    tmp_path.mkdir(parents=True, exist_ok=True)
    wf = tmp_path / "wf.yml"
    wf.write_text(yaml.safe_dump({"jobs": {"j": {"env": {"RUN": "${{ github.run_id }}"}, "steps": steps}}}))
    return JobRun(wf, "j", source or tmp_path, tmp_path / "runner",
                  {"github": {"run_id": "5"}, "secrets": {}}, job_timeout_s=60)


def test_steps_run_in_order_with_github_env_and_failures_skip_all_but_always(tmp_path):
    steps = [
        {"name": "set",
         "run": "echo 'FOO=bar' >> \"$GITHUB_ENV\"\necho \"NOTE<<EOF\nline one\nEOF\" >> \"$GITHUB_ENV\""},
        {"name": "use", "run": "echo \"$FOO/$RUN/$NOTE\" > out.txt"},
        {"name": "fail", "run": "false\necho never > never.txt"},
        {"name": "skipped", "run": "touch skipped.txt"},
        {"name": "always", "if": "always()", "run": "echo done > always.txt"},
    ]
    job = _job(tmp_path, steps)
    results = job.run()
    assert [(r.name, r.ran, r.exit_code) for r in results] == [
        ("set", True, 0), ("use", True, 0), ("fail", True, 1), ("skipped", False, None), ("always", True, 0)]
    assert (job.workspace / "out.txt").read_text() == "bar/5/line one\n"
    assert not (job.workspace / "never.txt").exists()  # bash -e: the failing line ends the step
    assert not (job.workspace / "skipped.txt").exists()
    assert (job.workspace / "always.txt").exists()


def test_cache_restore_falls_back_to_the_newest_restore_key_and_save_copies_the_paths(tmp_path):
    steps = [
        {"uses": "actions/cache/restore@v6", "with": {"path": "kept\nnote.txt", "key": "k-${{ github.run_id }}",
                                                      "restore-keys": "k-"}},
        {"run": "cat note.txt > seen.txt; echo more >> kept/a.txt"},
        {"uses": "actions/cache/save@v6", "if": "always()", "with": {"path": "kept\nnote.txt", "key": "k-5"}},
        {"uses": "actions/upload-artifact@v7", "with": {"name": "art", "path": "kept/"}},
    ]
    job = _job(tmp_path, steps)
    old, older = job.cache / "k-4", job.cache / "k-3"
    for d, text in ((older, "older"), (old, "old")):
        (d / "kept").mkdir(parents=True)
        (d / "kept" / "a.txt").write_text("a\n")
        (d / "note.txt").write_text(text)
    subprocess.run(["touch", "-d", "2020-01-01", str(older)], check=True)
    results = job.run()
    assert all(r.ok for r in results), [(r.name, r.tail()) for r in results]
    assert (job.workspace / "seen.txt").read_text() == "old"
    assert (job.cache / "k-5" / "kept" / "a.txt").read_text() == "a\nmore\n"
    assert (job.artifacts / "art" / "kept" / "a.txt").is_file()


def test_checkout_is_a_fresh_clone_of_what_is_committed(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    (src / "committed.txt").write_text("yes\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    (src / "uncommitted.txt").write_text("no\n")
    job = _job(tmp_path, [{"uses": "actions/checkout@v7", "with": {"fetch-depth": 0}}], source=src)
    assert job.run()[0].exit_code == 0
    assert (job.workspace / "committed.txt").read_text() == "yes\n"
    assert not (job.workspace / "uncommitted.txt").exists()


def test_an_action_without_a_mapping_or_an_unknown_condition_is_an_error(tmp_path):
    with pytest.raises(WorkflowError, match="actions/setup-python@v5"):
        _job(tmp_path, [{"uses": "actions/setup-python@v5"}]).run()
    with pytest.raises(WorkflowError, match=r"'actions/checkout@v4': mapped at actions/checkout@v7 only"):
        _job(tmp_path / "old", [{"uses": "actions/checkout@v4"}]).run()  # node20: GitHub removed it
    with pytest.raises(WorkflowError, match=r"input\(s\) lookup-only not emulated"):
        _job(tmp_path / "input", [{"uses": "actions/cache/restore@v6.1.0",
                                   "with": {"path": "x", "key": "k", "lookup-only": "true"}}]).run()
    with pytest.raises(WorkflowError, match="success"):
        _job(tmp_path / "b", [{"run": "true", "if": "success() && github.ref == 'x'"}]).run()


def test_the_nightly_job_keeps_state_summary_and_reports_even_after_a_failed_night():
    """What must run after a failed drill step carries `if: always()`; nothing before it does."""
    steps = load_job(NIGHTLY, "drill")["steps"]
    names = [s.get("name", s.get("uses")) for s in steps]
    drills = names.index("Rollback drills")
    after = {s.get("name"): s.get("if") for s in steps[drills + 1:]}
    assert after == {"Remove the target config and key files": "always()",
                     "Save the drill history and state (also after a failed night)": "always()",
                     "RTO table on the summary page": "always()", "Upload reports": "always()"}
    uses = {s["uses"].split("@")[0] for s in steps if "uses" in s}
    assert "actions/cache" not in uses  # the combined action saves only when the job passed
