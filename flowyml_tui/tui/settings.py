"""What the workbench remembers between sessions: a small TOML file in the config dir.

Only the app writes it, one `key = "value"` line per setting, so a user can read and edit it.
A file that cannot be read or parsed is ignored (the defaults apply), never a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from pathlib import Path


def load_settings(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)}


def save_setting(path: Path, key: str, value: str) -> str | None:
    """Set one setting, keeping the others; returns why it could not be saved, or None."""
    settings = load_settings(path)
    settings[key] = value
    text = "".join(f"{name} = {json.dumps(val)}\n" for name, val in sorted(settings.items()))
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)  # a reader never sees half a file
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        return f"cannot save settings to {path}: {exc.strerror or exc}"
    return None
