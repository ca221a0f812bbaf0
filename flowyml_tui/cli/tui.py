"""`flowyml-tui [FILE_OR_DIR ...]`: open the workbench (the default command)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine.errors import FlowymlError
from ..engine.run.choose import add_runner_arguments, check_jobs, runner_argv

if TYPE_CHECKING:
    from ..tui.app import FlowymlApp


FRAMES_PER_SECOND = 120
"""How often Textual may draw (`TEXTUAL_FPS`, 60 by default): a change, like the row of a step
that has just started, waits for the next frame, up to 1/60 s at Textual's default. It draws
only what changed, and the workbench changes its widgets at most 60 times a second."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="FILE_OR_DIR",
        help="pipeline files or folders (default: the current folder, else pipelines/)",
    )
    parser.add_argument(
        "--pipeline", metavar="NAME", help="which pipeline, when a file has several"
    )
    parser.add_argument("--cache-dir", metavar="DIR", help="use this cache dir for every pipeline")
    parser.add_argument(
        "--shared",
        metavar="URL",
        help="the team's shared cache, redis://host:6379/0 (default: $FLOWYML_TUI_SHARED)",
    )
    parser.add_argument(
        "--blobs",
        metavar="URL",
        help="the team's blob store for big values, s3://bucket/prefix or file:///folder "
        "(default: $FLOWYML_TUI_BLOBS)",
    )
    parser.add_argument("--theme", metavar="NAME", help="colour theme (built-in or a theme file)")
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a run context value (repeatable); VALUE is parsed as JSON when it can be; C edits",
    )
    parser.add_argument(
        "--no-watch", action="store_true", help="run once on start and on r; ignore saves"
    )
    parser.add_argument(
        "--no-warm",
        action="store_true",
        help="the spare worker does not import the last run's libraries ahead "
        "(saves memory; `warm = false` in config.toml does it always)",
    )
    add_runner_arguments(parser)


def main(args: argparse.Namespace) -> int:
    app = build_app(args)  # the arguments first: a mistake is told with or without a terminal
    if isinstance(app, int):
        return app
    if not sys.stdin.isatty():  # Textual would poll a closed or piped stdin forever
        return _usage_error(
            "the workbench needs a terminal (stdin is not one); in scripts and CI use "
            "`flowyml-tui run FILE`"
        )
    cluster = None
    if args.dask == "local":  # one LocalCluster for the session, shared by its runs
        from distributed import LocalCluster

        options = {"n_workers": args.jobs, "threads_per_worker": 1} if args.jobs > 1 else {}
        cluster = LocalCluster(processes=True, dashboard_address=None, **options)
        args.dask = cluster.scheduler_address
        app = build_app(args)  # its workers get the cluster's address, not "local"
    try:
        if isinstance(app, int):
            return app
        result = app.run()
        return int(result or 0)
    finally:
        if cluster is not None:
            cluster.close()


def build_app(args: argparse.Namespace) -> FlowymlApp | int:
    """Validate the arguments before the screen takes over, so mistakes read as one line; the
    app, or the exit status of a usage error."""
    if "TEXTUAL_FPS" not in os.environ:  # the user's own setting wins
        os.environ["TEXTUAL_FPS"] = str(FRAMES_PER_SECOND)
        import textual.constants  # noqa: F401  (reads it once, when it loads)

        del os.environ["TEXTUAL_FPS"]  # not handed on to the pipeline's workers
    from ..config import user_themes_dir
    from ..runner.watch import discover_pipeline_files
    from ..tui.themes import available_themes

    try:
        files = discover_pipeline_files([Path(p) for p in args.paths])
        context = _parse_context(args.context)
        check_jobs(args.jobs)
        _check_shared(args.shared)
        warm = not args.no_warm and _configured_warm()
        _check_blobs(args.blobs)
    except FlowymlError as exc:
        return _usage_error(str(exc))
    themes, _problems = available_themes()
    if args.theme is not None and args.theme not in themes:
        return _usage_error(
            f"unknown theme {args.theme!r}; choose one of: {', '.join(sorted(themes))} "
            f"(or add a theme file to {user_themes_dir()}/)"
        )
    if (
        args.cache_dir is not None
        and Path(args.cache_dir).exists()
        and not Path(args.cache_dir).is_dir()
    ):
        return _usage_error(f"--cache-dir {args.cache_dir} is a file, not a directory")

    if args.shared:  # the runs happen in worker processes, which inherit the environment
        os.environ["FLOWYML_TUI_SHARED"] = args.shared
    if args.blobs:
        os.environ["FLOWYML_TUI_BLOBS"] = args.blobs
    from ..tui.app import FlowymlApp

    return FlowymlApp(
        files,
        pipeline=args.pipeline,
        cache_dir=args.cache_dir,
        theme=args.theme,
        watch=not args.no_watch,
        warm_imports=warm,
        context=context,
        runner_args=tuple(runner_argv(args.jobs, args.dask)),
    )


def _parse_context(pairs: list[str]) -> dict[str, object]:
    if not pairs:  # .common imports the cache store: not on the start-up path without -c
        return {}
    from ..runner.context_args import parse_context

    return parse_context(pairs)


def _configured_warm() -> bool:
    from ..runner.warm_config import configured_warm

    return configured_warm()


def _check_shared(shared: str | None) -> None:
    """The shared tier's URL and environment, checked here: a worker finding them wrong would
    show it as a pipeline that failed to load."""
    if not (shared or os.environ.get("FLOWYML_TUI_SHARED")):
        return  # nothing configured: the cache modules stay off the start-up path
    from ..engine.cache.sharing import check_shared_settings

    check_shared_settings(shared)


def _check_blobs(blobs: str | None) -> None:
    """The blob store's URL and environment, checked before the screen takes over."""
    if not (blobs or os.environ.get("FLOWYML_TUI_BLOBS")):
        return
    from ..engine.cache.blobs.settings import check_blob_settings

    check_blob_settings(blobs)


def _usage_error(message: str) -> int:
    print(f"flowyml-tui: error: {message}", file=sys.stderr)
    return 2
