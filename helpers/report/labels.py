"""Every word the drill report prints, in English and Chinese: one table, not two templates.

The Chinese column uses the runbook's own wording wherever the runbook has it (its checklists, its
RTO table, its report template, the names of the rollback types); the rest follows its style.
Entries may carry `str.format` fields; `Labels(lang)(key, **fields)` fills them.
"""
from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["LABELS", "LANGUAGES", "Labels", "normalize_language"]

LANGUAGES = ("en", "zh")

# key: (English, 中文)
LABELS: dict[str, tuple[str, str]] = {
    # -- page ----------------------------------------------------------------------------------
    "report_title": ("Aura Flow rollback drill — {target}", "Aura Flow 回滚演练报告 — {target}"),
    "page_heading": ("Rollback drill report", "回滚演练报告"),
    "verdict_question": ("Could we roll back tonight?", "今晚能否安全回滚？"),
    "verdict_yes": ("Yes — every drill recovered within its RTO and was restored.",
                    "可以 — 所有演练均在目标时间内恢复，且环境已复原。"),
    "verdict_no": ("No — {failed} of {total} drills did not pass: {names}.",
                   "不能 — {total} 项演练中有 {failed} 项未通过：{names}。"),
    "verdict_none": ("No drill ran.", "本次没有执行任何演练。"),
    "verdict_partial": ("Not fully — {skipped} of {total} drills were skipped.",
                        "不完全 — {total} 项演练中有 {skipped} 项被跳过。"),
    "toc": ("Contents", "目录"),
    "generated": ("Run {started} → {finished} against {target} ({environment})",
                  "运行时间 {started} → {finished}，目标 {target}（{environment}）"),
    # -- RTO table (the runbook's "演练时间目标") ---------------------------------------------------
    "rto_heading": ("Drill time targets", "演练时间目标"),
    "rto_col_type": ("Rollback type", "回滚类型"),
    "rto_col_target": ("Target time (RTO)", "目标时间 (RTO)"),
    "rto_col_actual": ("Actual time", "实际时间"),
    "rto_col_status": ("Status", "状态"),
    "rto_col_drill": ("Drill", "演练用例"),
    "rto_not_recovered": ("not recovered", "未恢复"),
    "rto_no_rollback": ("rollback not run", "未执行回滚"),
    "rto_near_budget": ("{pct}% of target", "已达目标的 {pct}%"),
    "rto_drills_of_type": ("slowest of {n} drills", "{n} 项演练中最慢"),
    "rto_failed_of_type": ("failed ({n} drills)", "失败（共 {n} 项）"),
    "rto_folded": ("includes the emergency drill (full rollback to stable)",
                   "含紧急回滚演练（完整回滚到 stable）"),
    # -- rollback types (the runbook's names) ----------------------------------------------------
    "type_image": ("Image rollback", "镜像回滚"),
    "type_nginx": ("Nginx rollback", "Nginx 回滚"),
    "type_database": ("Database rollback", "数据库回滚"),
    "type_upstream": ("Upstream switch", "Upstream 切换"),
    "type_full": ("Full rollback", "完整回滚"),
    "type_emergency": ("Emergency rollback", "紧急回滚"),
    # -- statuses ---------------------------------------------------------------------------------
    "status_passed": ("passed", "通过"),
    "status_failed": ("failed", "失败"),
    "status_error": ("error", "错误"),
    "status_skipped": ("skipped", "跳过"),
    "status_not_run": ("not run", "未执行"),
    "check_pass": ("pass", "通过"),
    "check_fail": ("fail", "未通过"),
    "check_manual": ("manual — for people to confirm", "人工确认"),
    "check_not_run": ("not run", "未执行"),
    # -- units --------------------------------------------------------------------------------------
    "seconds": ("{n} s", "{n} 秒"),
    "minutes": ("{n} min", "{n} 分钟"),
    "min_sec": ("{m} min {s} s", "{m} 分 {s} 秒"),
    "hour_min": ("{h} h {m} min", "{h} 小时 {m} 分"),
    "ms": ("{n} ms", "{n} 毫秒"),
    "none": ("—", "—"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    # -- the runbook's report template ("演练报告模板") ---------------------------------------------
    "tpl_heading": ("Drill report", "演练报告"),
    "tpl_basic": ("Basic information", "演练基本信息"),
    "tpl_date": ("Drill date", "演练日期"),
    "tpl_types": ("Drill type", "演练类型"),
    "tpl_participants": ("Participants", "参与人员"),
    "tpl_environment": ("Drill environment", "演练环境"),
    "tpl_results": ("Drill results", "演练结果"),
    "tpl_exec_time": ("Execution time", "执行时间"),
    "tpl_success": ("Success / failure", "成功/失败"),
    "tpl_problems": ("Main problems", "主要问题"),
    "tpl_resolution": ("Resolution time", "解决时间"),
    "tpl_suggestions": ("Improvement suggestions", "改进建议"),
    "tpl_next": ("Next drill plan", "下次演练计划"),
    "tpl_next_date": ("Planned date", "计划日期"),
    "tpl_next_type": ("Drill type", "演练类型"),
    "tpl_next_focus": ("Focus", "重点关注"),
    "tpl_no_participants": ("not given (--participants or [report] participants)",
                            "未填写（--participants 或 [report] participants）"),
    "tpl_exec_value": ("run took {run}; rollback commands ran {commands} in total",
                       "整轮用时 {run}；回滚命令合计 {commands}"),
    "tpl_success_all": ("Success: all {total} drills passed", "成功：{total} 项演练全部通过"),
    "tpl_success_some": ("Failure: {passed} passed, {failed} failed, {error} error, {skipped} skipped "
                         "(of {total})",
                         "失败：共 {total} 项，通过 {passed}，失败 {failed}，错误 {error}，跳过 {skipped}"),
    "tpl_no_problems": ("none", "无"),
    "tpl_resolution_value": ("{drill}: {rto}", "{drill}：{rto}"),
    "tpl_nothing": ("no change needed", "无需调整"),
    "tpl_env_value": ("{target} ({environment}), {url}", "{target}（{environment}），{url}"),
    # -- suggestions: the runbook's four kinds -----------------------------------------------------
    "kind_script": ("Script optimisation", "脚本优化"),
    "kind_process": ("Process improvement", "流程改进"),
    "kind_documentation": ("Documentation update", "文档更新"),
    "kind_training": ("Training needs", "培训需求"),
    "sg_command_failed": ("{drill}: the rollback command ended with {how}; fix `rollback.sh --type {type}` "
                          "(its stderr is attached to the drill).",
                          "{drill}：回滚命令以{how}结束；需修复 `rollback.sh --type {type}`"
                          "（stderr 已附在该演练中）。"),
    "sg_not_recovered": ("{drill}: the target never recovered within the {budget} target; the rollback "
                         "must bring back version {version} and pool {pool}.",
                         "{drill}：在目标时间 {budget} 内系统未恢复；回滚须恢复到版本 {version}、{pool}。"),
    "sg_rto_close": ("{drill}: RTO {rto} is {pct}% of the {budget} target; make the {type_label} faster "
                     "before it misses.",
                     "{drill}：RTO {rto} 已达目标 {budget} 的 {pct}%；需在超时之前加快{type_label}。"),
    "sg_fault_none": ("{drill}: the injected fault was never observed, so the drill proves nothing; "
                      "make the fault take effect and check it by observing the target.",
                      "{drill}：注入的故障未被观测到，演练无法证明任何事；需确保故障生效并通过观测目标来确认。"),
    "sg_latent": ("{drill}: the fault was latent ({detail}): /healthz stayed green, so the runbook's "
                  "`curl -f …/healthz || echo \"配置错误确认\"` cannot confirm it. Document `nginx -t` "
                  "as the check.",
                  "{drill}：故障是潜伏的（{detail}）：/healthz 一直正常，手册中的 "
                  "`curl -f …/healthz || echo \"配置错误确认\"` 无法确认问题。文档应改用 `nginx -t` 检查。"),
    "sg_rpo_unverified": ("{drill}: RPO unverified ({ack} acknowledged writes); keep a writer running "
                          "through every rollback so data loss can be measured.",
                          "{drill}：RPO 未验证（确认写入 {ack} 次）；每次回滚期间应持续写入，以便度量数据丢失。"),
    "sg_rpo_lost": ("{drill}: {lost} of {ack} acknowledged writes were lost; the {type_label} must keep "
                    "rows written after the snapshot.",
                    "{drill}：{ack} 次确认写入中丢失 {lost} 次；{type_label}必须保留快照之后写入的数据。"),
    "sg_restore_failed": ("{drill}: staging could not be restored to its baseline ({detail}); check the "
                          "environment by hand before the next drill.",
                          "{drill}：Staging 未能恢复到基线（{detail}）；下次演练前需人工检查环境。"),
    "sg_perf": ("{drill}: performance smoke after rollback: {errors} errors, p95 {p95}.",
                "{drill}：回滚后性能冒烟测试：错误 {errors} 次，p95 {p95}。"),
    "sg_check_failed": ("{drill}: checklist item “{item}” failed: {detail}",
                        "{drill}：检查项“{item}”未通过：{detail}"),
    "sg_preflight_failed": ("Before the drill: “{item}” failed: {detail}",
                            "演练前检查：“{item}”未通过：{detail}"),
    "sg_training_issue": ("Walk the team through “{issue}” from the runbook's troubleshooting, using "
                          "{drill} as the worked example.",
                          "以 {drill} 为例，带团队演练手册“常见问题与解决方案”中的“{issue}”。"),
    "sg_regression": ("{type_label}: {flag}; find what made it worse before it misses its target.",
                      "{type_label}：{flag}；需在超出目标之前查明退化原因。"),
    "issue_1": ("Problem 1: rollback script fails", "问题 1: 回滚脚本执行失败"),
    "issue_2": ("Problem 2: service does not start after rollback", "问题 2: 回滚后服务无法启动"),
    "issue_3": ("Problem 3: database rollback fails", "问题 3: 数据库回滚失败"),
    "how_exit": ("exit {code}", "退出码 {code}"),
    "how_timeout": ("a timeout", "超时"),
    "next_focus_weak": ("{drill}: {reason}", "{drill}：{reason}"),
    "next_focus_ok": ("all types met their targets; keep the monthly full rollback drill "
                      "(the runbook's recommendation)",
                      "各类型均达标；按手册建议继续每月一次完整回滚演练"),
    "reason_error": ("restore or setup failed", "环境恢复或准备失败"),
    "reason_not_recovered": ("never recovered", "未恢复"),
    "reason_failed": ("failed", "失败"),
    "reason_close": ("RTO at {pct}% of target", "RTO 达目标的 {pct}%"),
    "reason_unverified": ("RPO unverified", "RPO 未验证"),
    "reason_latent": ("fault only latent", "故障仅潜伏"),
    "reason_slowest": ("highest RTO share ({pct}% of target)", "RTO 占比最高（目标的 {pct}%）"),
    # -- pytest-html's results table and environment table (rows and columns the suite adds) -------
    "col_type": ("Type", "类型"),
    "col_rto": ("RTO", "RTO"),
    "md_drill_target": ("Drill target", "演练目标"),
    "md_target": ("Target", "目标环境"),
    "md_base_url": ("Base URL", "基础 URL"),
    "md_participants": ("Participants", "参与人员"),
    "md_report_language": ("Report language", "报告语言"),
    "md_container_engine": ("Container engine", "容器引擎"),
    "md_suite_revision": ("Suite revision", "演练套件版本"),
    "md_image_repository": ("Image repository", "镜像仓库"),
    "md_image_service": ("Image {service}", "{service} 镜像"),
    # -- checklists ("演练检查清单") ---------------------------------------------------------------
    "cl_heading": ("Drill checklists", "演练检查清单"),
    "phase_before": ("Before the drill", "演练前检查"),
    "phase_during": ("During the drill", "演练中检查"),
    "phase_after": ("After the drill", "演练后检查"),
    "cl_item": ("Item", "检查项"),
    "cl_run": ("Run", "本轮"),
    "cl_overall": ("Overall", "汇总"),
    "item_staging_available": ("Staging environment available", "Staging 环境可用"),
    "item_rollback_executable": ("Rollback script executable", "回滚脚本可执行"),
    "item_backups_complete": ("Backup files complete", "备份文件完整"),
    "item_monitoring_ok": ("Monitoring system healthy", "监控系统正常"),
    "item_team_notified": ("Team notified", "团队通知完成"),
    "item_rollback_succeeded": ("Rollback script succeeded", "回滚脚本执行成功"),
    "item_system_status_ok": ("System status normal", "系统状态正常"),
    "item_functional_verified": ("Functional verification passed", "功能验证通过"),
    "item_performance_ok": ("Performance figures normal", "性能指标正常"),
    "item_monitoring_correct": ("Monitoring data correct", "监控数据正确"),
    "item_fully_restored": ("System fully restored", "系统完全恢复"),
    "item_drill_log_complete": ("Drill log complete", "演练日志完整"),
    "item_problems_recorded": ("Problems recorded in detail", "问题记录详细"),
    "item_suggestions_clear": ("Improvement suggestions clear", "改进建议明确"),
    "item_team_summary": ("Team summary done", "团队总结完成"),
    "cl_derived": ("from this report", "由本报告得出"),
    "cl_manual_note": ("Items marked manual are for people to confirm (team notified, team summary): "
                       "software never ticks them.",
                       "标为“人工确认”的检查项（团队通知完成、团队总结完成）须由人工确认，软件不会勾选。"),
    # -- per drill -------------------------------------------------------------------------------
    "drill_timeline": ("Probe timeline", "探测时间线"),
    "drill_facts": ("What the drill saw", "演练观测"),
    "drill_command": ("Rollback command", "回滚命令"),
    "drill_stdout": ("stdout", "标准输出"),
    "drill_stderr": ("stderr", "标准错误"),
    "drill_problems": ("Problems", "问题"),
    "drill_checks": ("Checklist", "检查清单"),
    "drill_attachments": ("Troubleshooting attachments", "排障附件"),
    "drill_rto": ("RTO", "RTO"),
    "drill_budget": ("target {budget}", "目标 {budget}"),
    "fact_fault": ("Fault", "故障"),
    "fact_observed": ("How it was seen", "观测方式"),
    "fact_probe": ("Probe", "探测"),
    "fact_probe_value": ("{requests} requests, {failures} failed, longest outage {outage}",
                         "{requests} 次请求，失败 {failures} 次，最长中断 {outage}"),
    "fact_rpo": ("Writes (RPO)", "写入 (RPO)"),
    "fact_rpo_value": ("{ack} acknowledged, {lost} lost", "确认 {ack} 次，丢失 {lost} 次"),
    "fact_rpo_unverified": ("unverified", "未验证"),
    "fact_rpo_not_measured": ("RPO not measured ([rpo] enabled = false: no test writes)",
                              "未测量 RPO（[rpo] enabled = false：不做测试写入）"),
    "fact_perf": ("Performance smoke", "性能冒烟"),
    "fact_perf_value": ("{requests} requests, {errors} errors, p50 {p50}, p95 {p95}, max {max}",
                        "{requests} 次请求，错误 {errors} 次，p50 {p50}，p95 {p95}，最大 {max}"),
    "fact_restore": ("Restore", "环境复原"),
    "fact_restored_ok": ("restored to the snapshot", "已恢复到快照状态"),
    "fact_restored_bad": ("NOT restored", "未能复原"),
    "fact_expected": ("Expected after rollback", "回滚后预期"),
    "fact_expected_value": ("version {version}, pool {pool}", "版本 {version}，{pool}"),
    "fact_command": ("Command", "命令"),
    "fact_command_value": ("{how} after {duration}", "{duration} 后{how}"),
    "observed_visible": ("visible — the probe saw the fault (failures or the wrong version/pool)",
                         "可见 — 探测发现故障（失败或版本/池不符）"),
    "observed_latent": ("latent — nginx -t fails, traffic unaffected", "潜伏 — nginx -t 失败，流量未受影响"),
    "observed_none": ("not observed", "未观测到"),
    "output_empty": ("(empty)", "（空）"),
    "output_cut": ("… {n} earlier lines cut …", "… 已省略前 {n} 行 …"),
    # -- timeline -------------------------------------------------------------------------------
    "tl_title": ("Probe timeline of {drill}", "{drill} 的探测时间线"),
    "tl_desc": ("{n} probe answers over {span}: {healthy} healthy, {unhealthy} unhealthy, {wrong} "
                "wrong version or pool. {recovery}",
                "{span} 内 {n} 次探测：正常 {healthy}，异常 {unhealthy}，版本或流量池不符 {wrong}。{recovery}"),
    "tl_recovered": ("Recovered {rto} after the rollback started.", "回滚开始后 {rto} 恢复。"),
    "tl_not_recovered": ("Not recovered.", "未恢复。"),
    "tl_no_samples": ("no probe answers were recorded", "没有探测记录"),
    "tl_axis": ("seconds from rollback start", "距回滚开始的秒数"),
    "tl_axis_first": ("seconds from first probe", "距首次探测的秒数"),
    "sample_healthy": ("healthy", "正常"),
    "sample_unhealthy": ("unhealthy", "异常"),
    "sample_wrong": ("wrong version / pool", "版本或流量池不符"),
    "mark_fault_injected": ("fault injected", "注入故障"),
    "mark_rollback_start": ("rollback start", "开始回滚"),
    "mark_rollback_exit": ("rollback exit", "回滚命令结束"),
    "mark_recovered": ("recovered", "已恢复"),
    "mark_soak_start": ("soak start", "稳定观察开始"),
    "mark_relapse": ("relapse", "恢复后再次异常"),
    "mark_soak_end": ("soak end", "稳定观察结束"),
    "tl_budget": ("RTO target", "RTO 目标"),
    # -- trend / history ------------------------------------------------------------------------
    "trend_heading": ("RTO trend", "RTO 趋势"),
    "trend_col_type": ("Type", "类型"),
    "trend_col_runs": ("Previous runs", "历史运行"),
    "trend_col_now": ("This run", "本次"),
    "trend_col_median": ("Recent median", "近期中位数"),
    "trend_col_flag": ("Regression", "退化"),
    "trend_none": ("No earlier runs in reports/history.jsonl yet: the trend starts with this run.",
                   "reports/history.jsonl 中暂无历史运行：趋势从本次开始。"),
    "trend_svg_title": ("RTO of {type_label} over the last {n} runs", "{type_label} 最近 {n} 次运行的 RTO"),
    "flag_slower": ("RTO {rto} is {ratio}× the recent median {median}",
                    "RTO {rto} 为近期中位数 {median} 的 {ratio} 倍"),
    "flag_newly_failing": ("passed last time, fails now", "上次通过，本次失败"),
    "flag_none": ("—", "—"),
    # -- environment ----------------------------------------------------------------------------
    "env_heading": ("Environment", "环境"),
    "suggestions_heading": ("Improvement suggestions", "改进建议"),
    "drills_heading": ("Drills", "演练明细"),
    "col_fault": ("Fault", "故障"),
}


def normalize_language(value: object) -> str:
    """'zh', 'zh-CN', 'zh_cn', '中文' → 'zh'; anything else (None, '', 'en-US') → 'en'."""
    text = str(value or "").strip().lower()
    return "zh" if text.startswith("zh") or text in {"cn", "中文", "chinese"} else "en"


class Labels:
    """`L = Labels("zh"); L("rto_heading")` → 演练时间目标."""

    def __init__(self, language: object = "en") -> None:
        self.language = normalize_language(language)
        self._index = LANGUAGES.index(self.language)

    def __call__(self, key: str, **fields: object) -> str:
        text = LABELS[key][self._index]
        return text.format(**fields) if fields else text

    def has(self, key: str) -> bool:
        return key in LABELS

    # -- formatting that differs between the languages -------------------------------------------
    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return self("none")
        if seconds < 10:
            return self("seconds", n=f"{seconds:.2f}")
        if seconds < 60:
            return self("seconds", n=f"{seconds:.1f}")
        m, s = divmod(round(seconds), 60)
        if m >= 60:
            return self("hour_min", h=m // 60, m=m % 60)
        return self("min_sec", m=m, s=s)

    def budget(self, seconds: float | None) -> str:
        """The runbook writes targets in whole minutes ('5 分钟'); other budgets in seconds."""
        if seconds is None:
            return self("none")
        if seconds >= 60 and float(seconds) % 60 == 0:
            return self("minutes", n=int(seconds // 60))
        return self("seconds", n=f"{seconds:g}")

    def millis(self, value: object) -> str:
        if not isinstance(value, (int, float, str)):  # None, or nothing a float can be read from
            return self("none")
        try:
            return self("ms", n=f"{float(value):.0f}")
        except (TypeError, ValueError):
            return self("none")

    def date(self, moment: datetime) -> str:
        m = moment.astimezone(UTC)
        if self.language == "zh":
            return f"{m.year}年{m.month}月{m.day}日"
        return m.strftime("%Y-%m-%d")

    def timestamp(self, moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def drill_type(self, drill_type: str) -> str:
        key = f"type_{drill_type}"
        return self(key) if key in LABELS else drill_type

    def status(self, status: str) -> str:
        key = f"status_{status}"
        return self(key) if key in LABELS else status

    def item(self, item: str) -> str:
        key = f"item_{item}"
        return self(key) if key in LABELS else item.replace("_", " ")
