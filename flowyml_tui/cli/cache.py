"""`flowyml-tui cache stats|ls|clear|gc|pin|unpin`: look after the step cache from the shell."""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..engine.cache import open_store, store_path
from ..engine.cache.files import referenced_read_only, remove_orphans, usage, wipe
from ..engine.display import format_bytes, format_duration, plural
from ..engine.errors import CacheFullError, FlowymlError
from ..engine.totals import format_rate
from .common import add_cache_dir, add_shared, open_existing_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    stats = actions.add_parser("stats", help="entries, size, hits and misses per step")
    stats.add_argument("--json", action="store_true", help="print as JSON")
    listing = actions.add_parser("ls", help="list cached entries")
    listing.add_argument("--step", metavar="S", help="only this step")
    clear = actions.add_parser("clear", help="delete cached entries")
    clear.add_argument("--step", metavar="S", help="only this step")
    clear.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    gc = actions.add_parser(
        "gc", help="delete files no entry points to (left by killed runs) and unreadable rows"
    )
    pin = actions.add_parser("pin", help="pin a step to its current cached result")
    pin.add_argument("step", metavar="STEP")
    unpin = actions.add_parser("unpin", help="unpin a step")
    unpin.add_argument("step", metavar="STEP")
    for sub in (stats, listing, clear, gc, pin, unpin):
        add_cache_dir(sub)
        add_shared(sub)
        sub.add_argument(
            "--pipeline",
            metavar="NAME",
            help="the pipeline the step belongs to (needed only when pipelines sharing this "
            "cache dir have a step of the same name)",
        )


def main(args: argparse.Namespace) -> int:
    try:
        store = open_existing_store(args.cache_dir, getattr(args, "shared", None))
    except CacheFullError as exc:
        if args.action == "gc":
            return _gc_full_disk(args, exc)
        if args.action != "clear" or args.step or args.pipeline:
            raise
        return _clear_full_disk(args)
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
        disk = stats["disk"]
        print(
            f"  on disk {format_bytes(disk['total'])}: values {format_bytes(disk['values'])}, "
            f"database {format_bytes(disk['database'])}, run records "
            f"{format_bytes(disk['records'])}, orphans {format_bytes(disk['orphans'])}"
            + (" (`flowyml-tui cache gc` removes them)" if disk["orphans"] else "")
            + f", other {format_bytes(disk['other'])}"
        )
        for row in stats["steps"]:
            pin = "  pinned" if row["pinned"] else ""
            print(
                f"  {row['step']:<24} {row['pipeline']:<16} {plural(row['entries'], 'entry'):>11} "
                f"{format_bytes(row['bytes']):>9}  "
                f"{plural(row['hits'], 'hit')} / {plural(row['misses'], 'miss', 'misses')}{pin}"
            )
        for name, tier in stats.get("tiers", {}).items():
            _print_tier(name, tier)
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
    if args.action == "gc":
        removed = store.gc()
        print(
            f"removed {plural(removed['files'], 'orphan file')} "
            f"({format_bytes(removed['bytes'])}) and "
            f"{plural(removed['rows'], 'unreadable row')} from {store.path}"
        )
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


def _print_tier(name: str, tier: dict) -> None:
    """One line per shared tier, and the entries it did not take (a value over its cap)."""
    if not tier.get("online"):
        print(f"{name} {tier['url']} (project {tier['project']}): offline")
        return
    print(
        f"{name} {tier['url']} (project {tier['project']}): {tier['entries']} entries, "
        f"{format_bytes(tier['bytes'])}, {tier['hits']} hits, {tier['refused']} refused"
    )
    for key in tier["not_shared"]:
        print(f"  not shared (a value over the size cap stays local): {key}")


def _gc_full_disk(args: argparse.Namespace, problem: CacheFullError) -> int:
    """`cache gc` when sqlite cannot open: orphans are found from a read-only look."""
    path = store_path(args.cache_dir)
    keep = referenced_read_only(path / "store")
    removed, freed = remove_orphans(path / "store", keep) if keep is not None else (0, 0)
    print(
        f"removed {plural(removed, 'orphan file')} ({format_bytes(freed)}) from {path}; "
        "the disk is still "
        f"too full to open the cache ({problem.__cause__}): `flowyml-tui cache clear` deletes "
        f"its {format_bytes(usage(path, keep or set())['values'])} of cached values"
    )
    return 0


def _clear_full_disk(args: argparse.Namespace) -> int:
    """`cache clear` when the disk is so full sqlite cannot open: delete the files directly."""
    path = store_path(args.cache_dir)
    if not args.yes and not _confirm(f"delete the whole cache at {path}?"):
        print("nothing deleted (pass --yes to skip this question)", file=sys.stderr)
        return 1
    _, freed = wipe(path / "store")
    open_store(path).close()  # a fresh, empty store
    print(f"cleared the cache at {path} (the disk was full: {format_bytes(freed)} freed)")
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
