"""`flowyml-tui cache stats|ls|clear|gc|pin|unpin`: look after the step cache from the shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ..engine.cache import CacheStore, open_store, store_path
from ..engine.cache.blobs.gc import DEFAULT_GRACE
from ..engine.cache.files import referenced_read_only, remove_orphans, usage, wipe
from ..engine.cache.sharing import SHARED_ENV
from ..engine.describe.display import format_bytes, format_duration, plural
from ..engine.errors import (
    AmbiguousStepError,
    CacheFullError,
    FlowymlError,
    SettingError,
    UnknownStepError,
)
from ..engine.history.totals import format_rate
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
        "gc",
        help="delete files no entry points to (left by killed runs) and unreadable rows; "
        "with --blobs, blobs no entry of any project names too",
    )
    gc.add_argument(
        "--grace",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_GRACE,
        help="with --blobs: keep unreferenced blobs younger than this (default: "
        f"{DEFAULT_GRACE:g}, a day), as a teammate's run uploads blobs before their entries",
    )
    pin = actions.add_parser("pin", help="pin a step to its current cached result")
    pin.add_argument("step", metavar="STEP")
    unpin = actions.add_parser("unpin", help="unpin a step")
    unpin.add_argument("step", metavar="STEP")
    for sub in (stats, listing, clear, gc, pin, unpin):
        add_cache_dir(sub)
        add_shared(sub, blobs_url_optional=sub is gc)
        sub.add_argument(
            "--pipeline",
            metavar="NAME",
            help="the pipeline the step belongs to (needed only when pipelines sharing this "
            "cache dir have a step of the same name)",
        )


def main(args: argparse.Namespace) -> int:
    shared = getattr(args, "shared", None)
    try:  # `clear` reaches the shared tier only when asked by --shared, never by the env alone
        store = open_existing_store(
            args.cache_dir,
            shared,
            blobs=args.blobs,
            local_only=args.action == "clear" and not shared,
        )
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
            + (
                f", damaged databases set aside {format_bytes(disk['set_aside'])} "
                "(`flowyml-tui cache gc` removes them)"
                if disk["set_aside"]
                else ""
            )
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
            _print_tier(name, tier, store.path)
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
            what = "the whole cache" + (
                f" and this project's entries in the shared cache at {shared}" if shared else ""
            )
        if not args.yes and not _confirm(f"delete {what} at {store.path}?"):
            print("nothing deleted (pass --yes to skip this question)", file=sys.stderr)
            return 1
        if args.step:
            owner = store.resolve(args.step, args.pipeline)
            count = store.clear_step(args.step, pipeline=owner)
            print(
                f"deleted {plural(count, 'entry')} of step {args.step} (pipeline {owner})"
                + (_shared_cleared(store, None) if not shared else "")
            )
        elif args.pipeline:
            count = store.clear_pipeline(args.pipeline)
            print(
                f"deleted {plural(count, 'entry')} of pipeline {args.pipeline}"
                + (_shared_cleared(store, None) if not shared else "")
            )
        else:
            store.clear()
            print(f"cleared the cache at {store.path}" + _shared_cleared(store, shared))
        return 0
    if args.action == "gc":
        if args.grace < 0:
            raise SettingError(f"--grace must be 0 or more seconds, got {args.grace:g}")
        removed = store.gc()
        print(
            f"removed {plural(removed['files'], 'orphan file')} "
            f"({format_bytes(removed['bytes'])}) and "
            f"{plural(removed['rows'], 'unreadable row')} from {store.path}"
            + (
                f", and {plural(removed['set_aside'], 'damaged database')} set aside "
                f"({format_bytes(removed['set_aside_bytes'])})"
                if removed["set_aside"]
                else ""
            )
        )
        if args.blobs is not None:
            print(_collect_blobs(store, args.grace))
        return 0
    if args.action == "pin":
        try:
            key = store.pin(args.step, pipeline=args.pipeline)
        except AmbiguousStepError:
            raise
        except UnknownStepError:
            known = known_steps(store, args.pipeline)
            if args.step in known:
                raise  # a real step with no entry (it failed, or was cleared): the store says so
            raise UnknownStepError(unknown_step_message(args.step, known)) from None
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


def known_steps(store: CacheStore, pipeline: str | None) -> list[str]:
    """Every step this cache knows of: those with entries, and those in each pipeline's
    newest run record (a step that only ever failed has a record but no entry)."""
    import warnings

    from ..engine.history.records import RunRecordError, RunRecordWarning, list_runs, load_run

    names = {
        row["step"]
        for row in store.stats()["steps"]
        if pipeline is None or row["pipeline"] == pipeline
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunRecordWarning)
        try:
            runs = list_runs(store.path, limit=None)
        except (RunRecordError, OSError):
            runs = []
        newest: dict[str, str] = {}
        for run in runs:  # newest first
            newest.setdefault(run.pipeline, run.run_id)
        for owner, run_id in newest.items():
            if pipeline is not None and owner != pipeline:
                continue
            try:
                record = load_run(store.path, run_id)
            except (RunRecordError, OSError):
                continue
            names.update(step["name"] for step in record["steps"])
    return sorted(names)


def unknown_step_message(step: str, known: list[str]) -> str:
    """What `cache pin` says of a name no pipeline of this cache has: it may be a typo."""
    if not known:
        return (
            f"unknown step {step!r}: this cache has no steps yet, so it has no cached result "
            "to pin; run the pipeline once first"
        )
    shown = ", ".join(known[:20]) + (f" (and {len(known) - 20} more)" if len(known) > 20 else "")
    return (
        f"unknown step {step!r}: no pipeline of this cache has it, so it has no cached result "
        f"to pin; known steps: {shown}"
    )


def _print_tier(name: str, tier: dict, path: object) -> None:
    """One line per shared tier, and the entries it did not take (a value over its cap)."""
    if not tier.get("online"):
        print(f"{name} {tier['url']} (project {tier['project']}): offline")
        return
    print(
        f"{name} {tier['url']} (project {tier['project']}): {tier['entries']} entries, "
        f"{format_bytes(tier['bytes'])}, {tier['hits']} hits, {tier['refused']} refused"
        f", hit rate {format_rate(_tier_hit_rate(path))} over this cache's runs"
    )
    blobs = tier.get("blob_store")
    if blobs is not None:
        print(
            f"  blob store {blobs['url']}: {plural(blobs['blobs'], 'blob')}, "
            f"{format_bytes(blobs['bytes'])}"
            if blobs.get("online")
            else f"  blob store {blobs['url']}: offline"
        )
    for key in tier["not_shared"]:
        print(f"  not shared (a value over the size cap stays local): {key}")


def _tier_hit_rate(path: object) -> float | None:
    """Of the steps this cache's runs could not serve locally, the share the team's tier
    served: shared hits / (shared hits + executed steps), over every run record kept."""
    import warnings

    from ..engine.history.records import RunRecordWarning, load_runs
    from ..engine.history.totals import hit_rate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunRecordWarning)
        records = load_runs(path)  # type: ignore[arg-type]
    hits = sum(record.get("shared_hits", 0) for record in records)
    ran = sum(step["status"] == "executed" for record in records for step in record["steps"])
    return hit_rate(hits, ran)


def _collect_blobs(store: object, grace: float) -> str:
    """`cache gc --blobs`: what it removed from the blob store, for its message."""
    from ..engine.cache.blobs.gc import collect_blobs
    from ..engine.cache.protocols import SharedTierDown
    from ..engine.cache.tiered import TieredStore

    values = store.shared.blob_values if isinstance(store, TieredStore) else None
    if values is None:
        raise SettingError(
            "cache gc --blobs: no blob store is in use; pass --blobs URL or set "
            "FLOWYML_TUI_BLOBS (and FLOWYML_TUI_SECRET)"
        )
    try:
        found = collect_blobs(values, store.shared.referenced_digests(), grace)
    except SharedTierDown:
        raise FlowymlError(
            f"the blob store at {values.url} is unreachable: nothing was deleted there; run "
            "this again when it is up"
        ) from None
    return (
        f"removed {plural(found.blobs, 'unreferenced blob')} ({format_bytes(found.bytes)}) "
        f"from {values.url}; kept {plural(found.kept_young, 'unreferenced blob')} younger "
        f"than {grace:g}s (a run may be about to name them)"
    )


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


def _shared_cleared(store: object, shared: str | None) -> str:
    """What `cache clear` did to the shared tier, for its message; clears it if asked."""
    if not shared:
        url = os.environ.get(SHARED_ENV)
        return (
            f"; the shared cache at {url} was not touched (pass --shared {url} to clear this "
            "project's shared entries too)"
            if url
            else ""
        )
    from ..engine.cache.tiered import TieredStore

    if not isinstance(store, TieredStore):
        return f"; the shared cache at {shared} was not used (see the warning above)"
    removed = store.clear_shared()
    if not store.shared.online:
        raise FlowymlError(
            f"cleared the local cache at {store.path}, but the shared cache at {shared} is "
            "unreachable: nothing was deleted there; run this again when it is up"
        )
    return (
        f" and {removed} keys of project {store.shared.project} from the shared cache at {shared}"
    )


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
