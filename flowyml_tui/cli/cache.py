"""`flowyml-tui cache stats|ls|clear|pin|unpin`: look after the step cache from the shell."""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..engine.display import format_bytes, format_duration, plural
from ..engine.errors import FlowymlError
from ..engine.totals import format_rate
from .common import add_cache_dir, open_existing_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    stats = actions.add_parser("stats", help="entries, size, hits and misses per step")
    stats.add_argument("--json", action="store_true", help="print as JSON")
    listing = actions.add_parser("ls", help="list cached entries")
    listing.add_argument("--step", metavar="S", help="only this step")
    clear = actions.add_parser("clear", help="delete cached entries")
    clear.add_argument("--step", metavar="S", help="only this step")
    clear.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    pin = actions.add_parser("pin", help="pin a step to its current cached result")
    pin.add_argument("step", metavar="STEP")
    unpin = actions.add_parser("unpin", help="unpin a step")
    unpin.add_argument("step", metavar="STEP")
    for sub in (stats, listing, clear, pin, unpin):
        add_cache_dir(sub)
        sub.add_argument(
            "--pipeline",
            metavar="NAME",
            help="the pipeline the step belongs to (needed only when pipelines sharing this "
            "cache dir have a step of the same name)",
        )


def main(args: argparse.Namespace) -> int:
    store = open_existing_store(args.cache_dir)
    if args.action == "stats":
        stats = store.stats()
        if args.pipeline is not None:
            stats["steps"] = [r for r in stats["steps"] if r["pipeline"] == args.pipeline]
        if args.json:
            print(json.dumps(stats, indent=2))
            return 0
        rate = format_rate(stats["hit_rate"])
        print(
            f"cache {stats['path']}: {plural(stats['entries'], 'entry')}, "
            f"{format_bytes(stats['bytes'])}, "
            f"{plural(stats['hits'], 'hit')} / {plural(stats['misses'], 'miss', 'misses')} "
            f"(hit rate {rate})"
        )
        for row in stats["steps"]:
            pin = "  pinned" if row["pinned"] else ""
            print(
                f"  {row['step']:<24} {row['pipeline']:<16} {plural(row['entries'], 'entry'):>11} "
                f"{format_bytes(row['bytes']):>9}  "
                f"{plural(row['hits'], 'hit')} / {plural(row['misses'], 'miss', 'misses')}{pin}"
            )
        return 0
    if args.action == "ls":
        entries = store.entries(args.step, pipeline=args.pipeline)
        if not entries:
            print("no cached entries" + (f" for step {args.step}" if args.step else ""))
        for info in entries:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.created_at))
            pin = "  pinned" if info.pinned else ""
            print(
                f"{info.step:<24} {info.pipeline:<16} {when}  {format_bytes(info.size):>9}  "
                f"took {format_duration(info.duration_seconds):>8}  {info.key}{pin}"
            )
        return 0
    if args.action == "clear":
        if args.step:
            what = f"the cached entries of step {args.step}"
        elif args.pipeline:
            what = f"the cached entries of pipeline {args.pipeline}"
        else:
            what = "the whole cache"
        if not args.yes and not _confirm(f"delete {what} at {store.path}?"):
            print("nothing deleted (pass --yes to skip this question)", file=sys.stderr)
            return 1
        if args.step:
            owner = store.resolve(args.step, args.pipeline)
            count = store.clear_step(args.step, pipeline=owner)
            print(f"deleted {plural(count, 'entry')} of step {args.step} (pipeline {owner})")
        elif args.pipeline:
            count = store.clear_pipeline(args.pipeline)
            print(f"deleted {plural(count, 'entry')} of pipeline {args.pipeline}")
        else:
            store.clear()
            print(f"cleared the cache at {store.path}")
        return 0
    if args.action == "pin":
        key = store.pin(args.step, pipeline=args.pipeline)
        print(f"pinned {args.step} to {key}")
        return 0
    if args.action == "unpin":
        # Idempotent, like `rm -f`: the state asked for ("not pinned") is the state reached.
        if store.unpin(args.step, pipeline=args.pipeline):
            print(f"unpinned {args.step}")
        else:
            print(f"{args.step} is not pinned; nothing to do")
        return 0
    raise FlowymlError(f"unknown cache action {args.action!r}")


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
