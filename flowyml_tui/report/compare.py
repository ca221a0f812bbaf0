"""Two run records side by side: what changed from run A (the baseline) to run B."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pygments.lexers import DiffLexer

from ..engine.history.records import SCHEMA_VERSION
from .code_diffs import code_diffs
from .common import (
    NONE,
    Record,
    esc,
    fmt_delta,
    fmt_seconds,
    normalise_format,
    reason_of,
    short_hash,
    totals_of,
)
from .html import badge, highlight_block, page, run_badge
from .markdown import md_cell, md_code, md_fence, md_text


def compare_runs(
    record_a: Record, record_b: Record, diffs: Mapping[str, str] | None = None
) -> Record:
    """What changed from run A to run B, step by step (A is the baseline). `diffs` (step ->
    diff from A's code to B's, `code_diffs.code_diffs`) wins over the diff B's record kept,
    which is against B's own baseline and only there when B re-ran the step."""
    steps_a = {step["name"]: step for step in record_a.get("steps", [])}
    steps_b = {step["name"]: step for step in record_b.get("steps", [])}
    names = list(steps_b) + [name for name in steps_a if name not in steps_b]
    rows = []
    for name in names:
        a, b = steps_a.get(name), steps_b.get(name)
        hash_a = a.get("code_hash") if a else None
        hash_b = b.get("code_hash") if b else None
        code_changed = bool(a and b and hash_a and hash_b and hash_a != hash_b)
        duration_a = a.get("duration_seconds") if a else None
        duration_b = b.get("duration_seconds") if b else None
        rows.append(
            {
                "name": name,
                "status_a": a.get("status") if a else None,
                "status_b": b.get("status") if b else None,
                "status_changed": (a or {}).get("status") != (b or {}).get("status"),
                "duration_a": duration_a,
                "duration_b": duration_b,
                "duration_delta": (
                    duration_b - duration_a
                    if duration_a is not None and duration_b is not None
                    else None
                ),
                "reason_b": reason_of(b) if b else "not in run B",
                "code_hash_a": hash_a,
                "code_hash_b": hash_b,
                "code_changed": code_changed,
                "diff": (
                    ((diffs or {}).get(name) or (b.get("diff") if b else None))
                    if code_changed
                    else None
                ),
            }
        )

    def side(record: Record) -> Record:
        keys = ("run_id", "pipeline", "status", "started_at", "duration_seconds")
        return {key: record.get(key) for key in keys} | {
            "totals": totals_of(record).to_dict(),
            "context": dict(record.get("context") or {}),
        }

    duration_a = record_a.get("duration_seconds")
    duration_b = record_b.get("duration_seconds")
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "comparison",
        "a": side(record_a),
        "b": side(record_b),
        "duration_delta": (
            duration_b - duration_a if duration_a is not None and duration_b is not None else None
        ),
        "steps": rows,
        "context": context_changes(record_a, record_b),
    }


def context_changes(record_a: Record, record_b: Record) -> list[Record]:
    """The context keys whose value differs from run A to run B: {key, a, b}, None when a
    run had no such key (records written before context was kept have none at all)."""
    context_a = record_a.get("context") or {}
    context_b = record_b.get("context") or {}
    keys = sorted(set(context_a) | set(context_b))
    return [
        {"key": key, "a": context_a.get(key), "b": context_b.get(key)}
        for key in keys
        if context_a.get(key) != context_b.get(key)
    ]


def context_change_text(change: Record) -> str:
    """ "10 → 20", "(absent) → 20": one changed context key, for the report and the TUI."""
    a = "(absent)" if change["a"] is None else change["a"]
    b = "(absent)" if change["b"] is None else change["b"]
    return f"{a} → {b}"


def _status_change(row: Record) -> str:
    a, b = row["status_a"] or "absent", row["status_b"] or "absent"
    return b if a == b else f"{a} → {b}"


def _comparison_markdown(cmp: Record) -> str:
    a, b = cmp["a"], cmp["b"]
    summary = (
        f"{md_code(a.get('pipeline') or '')} {md_text(a.get('status') or '')} in "
        f"{fmt_seconds(a.get('duration_seconds'))} → {md_code(b.get('pipeline') or '')} "
        f"{md_text(b.get('status') or '')} in {fmt_seconds(b.get('duration_seconds'))} "
        f"({fmt_delta(cmp.get('duration_delta'))})"
    )
    out = [
        f"### Comparing run {md_code(a['run_id'])} → {md_code(b['run_id'])}",
        "",
        summary,
        "",
        "| Step | Status (A → B) | Duration A | Duration B | Δ | Code |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for row in cmp["steps"]:
        status = md_cell(_status_change(row))
        if row["status_changed"]:
            status = f"**{status}**"  # ours: the bold is added after escaping
        code = "changed" if row["code_changed"] else "same" if row["code_hash_b"] else NONE
        out.append(
            f"| {md_code(row['name'], table=True)} | {status} "
            f"| {fmt_seconds(row['duration_a'])} | {fmt_seconds(row['duration_b'])} "
            f"| {fmt_delta(row['duration_delta'])} | {code} |"
        )
    if cmp.get("context"):
        out += ["", "#### Context changes", ""]
        out += [
            f"- {md_code(change['key'])}: {md_code(change['a'] or '(absent)')} → "
            f"{md_code(change['b'] or '(absent)')}"
            for change in cmp["context"]
        ]
    changed = [row for row in cmp["steps"] if row["status_changed"]]
    if changed:
        out += ["", "#### Status changes", ""]
        out += [
            f"- {md_code(row['name'])}: {md_text(_status_change(row))} — {md_text(row['reason_b'])}"
            for row in changed
        ]
    code_rows = [row for row in cmp["steps"] if row["code_changed"]]
    if code_rows:
        out += ["", "#### Code changes"]
        for row in code_rows:
            header = (
                f"**{md_code(row['name'])}** — code "
                f"{md_code(short_hash(row['code_hash_a']))} → "
                f"{md_code(short_hash(row['code_hash_b']))}"
            )
            body = md_fence(row["diff"], "diff") if row["diff"] else "_(no diff recorded)_"
            out += ["", header, "", body]
    return "\n".join(out) + "\n"


def _comparison_html(cmp: Record) -> str:
    a, b = cmp["a"], cmp["b"]
    rows = []
    for row in cmp["steps"]:
        delta = row["duration_delta"]
        cls = "" if not delta else "delta-up" if delta > 0 else "delta-down"
        if row["status_changed"]:
            status = f"{badge(row['status_a'] or 'absent')} → {badge(row['status_b'] or 'absent')}"
        else:
            status = badge(row["status_b"] or "absent")
        code = "changed" if row["code_changed"] else "same" if row["code_hash_b"] else NONE
        rows.append(
            f"<tr><td class=step>{esc(row['name'])}</td><td>{status}</td>"
            f"<td class=num>{esc(fmt_seconds(row['duration_a']))}</td>"
            f"<td class=num>{esc(fmt_seconds(row['duration_b']))}</td>"
            f'<td class="num {cls}">{esc(fmt_delta(delta))}</td>'
            f"<td>{esc(code)}</td><td>{esc(row['reason_b'])}</td></tr>"
        )
    diffs = []
    for row in cmp["steps"]:
        if not row["code_changed"]:
            continue
        body = (
            highlight_block(row["diff"], DiffLexer())
            if row["diff"]
            else '<p class="note">No diff recorded.</p>'
        )
        diffs.append(
            f'<article class="change"><h3>{esc(row["name"])} <small>code '
            f"{esc(short_hash(row['code_hash_a']))} → {esc(short_hash(row['code_hash_b']))}"
            f"</small></h3>{body}</article>"
        )

    context_rows = "".join(
        f"<tr><td class=step>{esc(change['key'])}</td>"
        f"<td><code>{esc(change['a'] if change['a'] is not None else '(absent)')}</code></td>"
        f"<td><code>{esc(change['b'] if change['b'] is not None else '(absent)')}</code></td></tr>"
        for change in cmp.get("context") or ()
    )
    context_section = (
        "<section id=context><h2>Context changes</h2><table><thead><tr><th>Key</th>"
        f"<th>A</th><th>B</th></tr></thead><tbody>{context_rows}</tbody></table></section>"
        if context_rows
        else ""
    )

    def describe(side: Record) -> str:
        return (
            f"<code>{esc(side['run_id'])}</code> {esc(side.get('pipeline') or '')} "
            f"{run_badge(str(side.get('status') or ''))} "
            f"in {esc(fmt_seconds(side.get('duration_seconds')))}"
        )

    body = (
        f"<header><h1>Comparing two runs</h1><p class=meta>A: {describe(a)}</p>"
        f"<p class=meta>B: {describe(b)} ({esc(fmt_delta(cmp.get('duration_delta')))})</p>"
        "</header>"
        f"{context_section}"
        "<section><h2>Steps</h2><table><thead><tr><th>Step</th><th>Status (A → B)</th>"
        "<th class=num>Duration A</th><th class=num>Duration B</th><th class=num>Δ</th>"
        f"<th>Code</th><th>Why (B)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</section>"
        + (
            f'<section id="changes"><h2>Code changes</h2>{"".join(diffs)}</section>'
            if diffs
            else ""
        )
    )
    return page(f"flowyml runs {a['run_id']} → {b['run_id']}", body)


def render_comparison(record_a: Record, record_b: Record, fmt: str = "md") -> str:
    """Run B against run A (the baseline) as html, md or json, with the code diffs rebuilt
    from the cache where its entries are still there."""
    cmp = compare_runs(record_a, record_b, code_diffs(record_a, record_b))
    fmt = normalise_format(fmt)
    if fmt == "json":
        return json.dumps(cmp, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return _comparison_markdown(cmp)
    return _comparison_html(cmp)
