"""The drill report: pure rendering of RunContext / DrillOutcome into HTML and SVG (no pytest here).

labels       one table of labels, English and Chinese (the runbook's wording)
rto_table    the runbook's RTO table: type, target, actual, status
template     the runbook's report template, filled in
suggestions  improvement suggestions (script / process / documentation / training), next drill
checklists   the before / during / after checklists with each item's result
timeline_svg a drill's probe timeline; trend_svg: RTO trend per type
history      reports/history.jsonl: append, read, trend, regression flags
environment  tool versions, image tags, git revision
page         the summary at the top of the report, the per-drill sections, a standalone page
"""
