"""User key remapping: `keymap.toml` (where: `flowyml_tui.config.keymap_path`) maps ids to keys."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path


def load_keymap(path: Path, known_ids: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """The valid `id = "keys"` lines of the file, and one line per problem with the rest.

    A missing file is no keymap and no problem; a broken one never stops the app.
    """
    if not path.exists():
        return {}, []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{path}: not valid TOML ({exc}); no keys were remapped"]
    known = set(known_ids)
    keymap: dict[str, str] = {}
    problems = []
    for binding_id, keys in data.items():
        if binding_id not in known:
            problems.append(
                f"{path}: unknown binding id {binding_id!r}; known: {', '.join(sorted(known))}"
            )
        elif not isinstance(keys, str) or not keys.strip():
            problems.append(f'{path}: {binding_id} must be a key string like "f5" or "R,f5"')
        else:
            keymap[binding_id] = keys.strip()
    return keymap, problems
