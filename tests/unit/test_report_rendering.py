"""The drill report, rendered from synthetic outcomes: fast, no target, no browser, no pytest run
(the plugin through pytest-html: tests/report/test_report_plugin.py).

The synthetic run (tests/report/synthetic.py) has a passed upstream drill slower than its history,
an image drill at 88% of its target, a failed nginx drill with a latent fault, a database drill
whose restore failed, a full drill with an unverified RPO and a skipped emergency drill.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers.outcome import Check
from helpers.report import checklists, history, page, rto_table, suggestions, timeline_svg
from helpers.report.labels import LABELS, Labels, normalize_language
from tests.report import synthetic
from tests.report.synthetic import FINISHED, SECRET

pytestmark = pytest.mark.unit

SVG = "{http://www.w3.org/2000/svg}"


def doc(language: str = "en", **kwargs) -> str:
    kwargs.setdefault("history_entries", synthetic.previous_history())
    return page.document(synthetic.run_context(language), finished_at=FINISHED, language=language,
                         **kwargs)


def rto_rows(html: str) -> dict[str, tuple[str, str]]:
    """{type: (status, row html)} from the rendered RTO table."""
    table = re.search(r'<table class="ar-table ar-rto".*?</table>', html, re.S).group(0)
    return {m.group(1): (m.group(2), m.group(0)) for m in
            re.finditer(r'<tr class="ar-row-\w+" data-type="(\w+)" data-status="(\w+)">.*?</tr>', table, re.S)}


# -- labels ---------------------------------------------------------------------------------------

def test_every_label_has_both_languages_with_the_same_fields():
    field = re.compile(r"{(\w+)}")
    for key, (en, zh) in LABELS.items():
        assert en and zh, key
        assert set(field.findall(en)) == set(field.findall(zh)), key


def test_language_choice_is_forgiving():
    assert normalize_language("zh-CN") == normalize_language("zh_cn") == "zh"
    assert normalize_language(None) == normalize_language("en-US") == normalize_language("") == "en"
    assert Labels("zh").budget(300) == "5 分钟" and Labels("en").budget(90) == "90 s"


# -- the RTO table --------------------------------------------------------------------------------

def test_rto_table_has_the_runbooks_rows_with_actual_times_and_statuses():
    rows = rto_rows(doc())
    assert list(rows) == ["image", "nginx", "database", "upstream", "full"]
    assert {t: s for t, (s, _) in rows.items()} == {
        "image": "passed", "nginx": "failed", "database": "error", "upstream": "passed", "full": "passed"}
    assert "4.40 s" in rows["image"][1] and "88% of target" in rows["image"][1]
    assert "not recovered" in rows["nginx"][1] and "2 min" in rows["nginx"][1]
    assert "1.70 s" in rows["database"][1] and "0.42 s" in rows["upstream"][1]
    assert "emergency" in rows["full"][1]  # the emergency drill is judged in the full row


def test_rto_row_shows_the_failed_drill_else_the_slowest():
    fast, slow = synthetic.image(), synthetic.image()
    fast.id, fast.rto_actual_s = "d::fast", 1.0
    slow.id, slow.rto_actual_s = "d::slow", 3.0
    row = next(r for r in rto_table.build_rows([(fast, "passed"), (slow, "passed")]) if r.type == "image")
    assert (row.drill_id, row.actual_s, row.status) == ("d::slow", 3.0, "passed")
    row = next(r for r in rto_table.build_rows([(fast, "failed"), (slow, "passed")]) if r.type == "image")
    assert (row.drill_id, row.status) == ("d::fast", "failed")


def test_types_not_drilled_show_the_runbooks_targets():
    rows = rto_table.build_rows([])
    assert [(r.type, r.target_s, r.status) for r in rows] == [
        ("image", 300, "not_run"), ("nginx", 120, "not_run"), ("database", 600, "not_run"),
        ("upstream", 60, "not_run"), ("full", 900, "not_run")]


# -- the template, suggestions, next drill -------------------------------------------------------

def test_template_is_filled_in():
    html = doc(participants=["Mei", "Tom"])
    tpl = html[html.index('id="aura-template"'):html.index('id="aura-checklists"')]
    for field in ("tpl_date", "tpl_types", "tpl_participants", "tpl_environment", "tpl_exec_time",
                  "tpl_success", "tpl_problems", "tpl_resolution", "tpl_next_date", "tpl_next_type",
                  "tpl_next_focus"):
        value = re.search(rf'data-field="{field}"><dt>.*?</dt><dd>(.*?)</dd>', tpl, re.S)
        assert value and value.group(1).strip(), field
    assert "2025-01-31" in tpl and "Mei, Tom" in tpl
    assert "aura-sandbox (staging)" in tpl and "http://ops:***@127.0.0.1:18080" in tpl
    assert "Failure: 3 passed, 1 failed, 1 error, 1 skipped (of 6)" in tpl
    assert "rollback command exited 1" in tpl
    assert "test_nginx_config_rollback: not recovered" in tpl
    # next drill: a month on (Jan 31 → Feb 28), the weakest drill's type and why
    assert "2025-02-28" in tpl
    assert re.search(r'data-field="tpl_next_type"><dt>.*?</dt><dd>Database rollback</dd>', tpl)


def test_participants_fall_back_to_the_config():
    assert "Li Wei, Ana" in doc()


def test_suggestions_name_the_failing_drill_in_the_four_kinds():
    run = synthetic.run_context()
    found = suggestions.derive(run.outcomes, run.preflight)
    L = Labels("en")
    by_kind = {k: [s.text(L) for s in found if s.kind == k] for k in suggestions.KINDS}
    assert any("test_nginx_config_rollback" in t and "exit 1" in t for t in by_kind["script"])
    assert any("test_image_rollback" in t and "88%" in t for t in by_kind["script"])
    assert any("test_database_migration_rollback" in t and "2 of 40" in t for t in by_kind["script"])
    assert any("test_database_migration_rollback" in t and "restored" in t for t in by_kind["process"])
    assert any("test_full_rollback" in t and "RPO unverified" in t for t in by_kind["process"])
    assert any("test_nginx_config_rollback" in t and "latent" in t and "nginx -t" in t
               for t in by_kind["documentation"])
    assert any("test_nginx_config_rollback" in t and "Problem 1" in t for t in by_kind["training"])
    assert not any("test_upstream_switch_rollback" in s.text(L) for s in found)  # healthy drill
    html = suggestions.render(found, L)
    assert html.count("<dt>") == 4


def test_a_clean_run_plans_the_monthly_full_drill():
    o = synthetic.upstream()
    nxt = suggestions.next_drill(datetime(2025, 3, 15, tzinfo=UTC), [(o, "passed")])
    assert nxt.type == "full" and nxt.date.date().isoformat() == "2025-04-15"
    assert "monthly full rollback" in nxt.focus(Labels("en"))
    assert suggestions.add_month(datetime(2024, 12, 31)).isoformat() == "2025-01-31T00:00:00"


# -- checklists -----------------------------------------------------------------------------------

def test_manual_items_are_never_ticked():
    run = synthetic.run_context()
    run.preflight.append(Check("before", "team_notified", "pass"))  # a Check claiming it passed
    rows = checklists.build(run.preflight, run.outcomes)
    manual = [r for r in rows if r.item in ("team_notified", "team_summary")]
    assert manual and all(r.overall.result == "manual" and all(c.result == "manual" for c in r.cells)
                          for r in manual)
    html = doc()
    for item in ("team_notified", "team_summary"):
        row = re.search(rf'<tr data-item="{item}".*?</tr>', html, re.S).group(0)
        assert "✓" not in row and "☐" in row and 'data-result="pass"' not in row
    nginx = page.drill_html(synthetic.nginx(), "failed")
    chip = re.search(r'<li class="ar-check-\w+" data-item="team_summary".*?</li>', nginx).group(0)
    assert "manual" in chip and "✓" not in chip


def test_checklists_show_each_items_result():
    html = doc()
    during = re.search(r'data-phase="during".*?</table>', html, re.S).group(0)
    row = re.search(r'<tr data-item="rollback_succeeded".*?</tr>', during, re.S).group(0)
    assert 'data-result="fail"' in row  # the nginx drill's rollback failed
    assert re.search(r'<tr data-item="staging_available" data-result="pass"', html)


# -- pictures -------------------------------------------------------------------------------------

def test_timeline_colours_each_sample_and_marks_the_drill():
    o = synthetic.image()
    svg = timeline_svg.render(o, Labels("en"))
    root = ET.fromstring(svg)  # well-formed XML
    assert root.find(f"{SVG}title").text == "Probe timeline of test_image_rollback"
    assert "151 probe answers" in root.find(f"{SVG}desc").text
    kinds = {r.get("data-kind"): 0 for r in root.iter(f"{SVG}rect") if r.get("data-kind")}
    for r in root.iter(f"{SVG}rect"):
        if r.get("data-kind"):
            kinds[r.get("data-kind")] += int(r.get("data-n"))
    expected = {k: sum(1 for s in o.samples if timeline_svg.classify(s, "v1.0.0", "api_v1") == k)
                for k in ("healthy", "unhealthy", "wrong")}
    assert kinds == expected and all(expected.values())
    marks = {g.get("data-mark") for g in root.iter(f"{SVG}g") if g.get("data-mark")}
    assert marks == {"fault_injected", "rollback_start", "rollback_exit", "recovered", "soak_end", "budget"}


def test_timeline_marks_the_soak_start_and_a_relapse_in_both_languages():
    o = synthetic.image()
    o.mark("soak_start", o.marks["rollback_exit"])
    o.mark("relapse", o.marks["rollback_exit"] - 0.2)
    for lang, word in (("en", "relapse"), ("zh", "恢复后再次异常")):
        svg = timeline_svg.render(o, Labels(lang))
        root = ET.fromstring(svg)
        marks = {g.get("data-mark") for g in root.iter(f"{SVG}g") if g.get("data-mark")}
        assert {"soak_start", "relapse"} <= marks
        assert word in svg


def test_timeline_without_samples_says_so():
    o = synthetic.emergency()
    root = ET.fromstring(timeline_svg.render(o, Labels("zh")))
    assert root.find(f"{SVG}desc").text == "没有探测记录"


def test_trend_pictures_are_well_formed():
    html = doc()
    svgs = re.findall(r'<svg class="ar-trend".*?</svg>', html, re.S)
    assert len(svgs) == 5  # the five types that ran (the emergency drill was skipped)
    for svg in svgs:
        ET.fromstring(svg)


# -- history --------------------------------------------------------------------------------------

def test_history_flags_regressions(tmp_path: Path):
    path = tmp_path / "history.jsonl"
    for e in synthetic.previous_history():
        history.append(path, e)
    with path.open("a") as f:
        f.write('{"run_id": "half a line\n')  # a killed run's partial line is skipped
    run = synthetic.run_context()
    current = history.entry_for_run(run, FINISHED)
    history.append(path, current)  # the current run itself is never its own history
    rows = {r.type: r for r in history.trend(current, history.read(path))}
    assert rows["upstream"].flags[0][0] == "flag_slower"
    assert rows["upstream"].median == pytest.approx(0.225)  # the other target's 9.0 s is ignored
    assert [f[0] for f in rows["nginx"].flags] == ["flag_newly_failing"]
    assert not rows["image"].flags  # 4.4 s against a 4.1 s median
    html = doc()
    assert re.search(r'data-type="upstream" data-regressed="true"', html)
    assert "passed last time, fails now" in html and "1.9× the recent median" in html


def test_history_line_has_the_runs_drills(tmp_path: Path):
    entry = history.entry_for_run(synthetic.run_context(), FINISHED)
    history.append(tmp_path / "h.jsonl", entry)
    (back,) = history.read(tmp_path / "h.jsonl")
    assert back["run_id"] == "2025-01-31T02:00:00Z" and len(back["drills"]) == 6
    assert {d["type"]: d["status"] for d in back["drills"]}["database"] == "error"


# -- per drill, languages, secrets ----------------------------------------------------------------

def test_failed_drill_carries_command_output_and_attachments():
    html = page.drill_html(synthetic.nginx(), "failed")
    assert "/srv/aura/scripts/rollback.sh --config /etc/aura/staging.toml --type nginx" in html
    assert "exit 1" in html and "latent" in html and "nginx_invalid_config" in html
    assert "Troubleshooting attachments" in html
    for title in ("rollback stderr", "API container log tail", "nginx error log tail"):
        assert title in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    passed = page.drill_html(synthetic.upstream(), "passed")
    assert "Troubleshooting attachments" not in passed
    assert "200 requests, 0 errors, p50 3 ms, p95 8 ms" in passed and "58 acknowledged, 0 lost" in passed


def test_chinese_report_uses_the_runbooks_wording():
    html = doc("zh")
    for text in ("演练时间目标", "回滚类型", "目标时间 (RTO)", "实际时间", "状态", "镜像回滚", "Nginx 回滚",
                 "数据库回滚", "Upstream 切换", "完整回滚", "2 分钟", "演练基本信息", "演练日期", "参与人员",
                 "演练环境", "演练结果", "成功/失败", "主要问题", "解决时间", "改进建议", "脚本优化", "流程改进",
                 "文档更新", "培训需求", "下次演练计划", "计划日期", "重点关注", "演练前检查", "演练中检查",
                 "演练后检查", "团队通知完成", "回滚脚本执行成功", "团队总结完成", "人工确认"):
        assert text in html, text
    assert 'lang="zh-CN"' in html
    assert "Drill time targets" not in html


def test_no_secret_reaches_the_html():
    for language in ("en", "zh"):
        html = doc(language)
        assert SECRET not in html
        assert "***" in html
