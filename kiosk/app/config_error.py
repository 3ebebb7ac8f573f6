"""The one error every configuration check raises, in a module of its own so that the settings
parsers of each room (hw, session) can raise it without importing the whole configuration."""

from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """A configuration problem, with the file and field it concerns; field "" when the problem is
    the file as a whole (missing, unreadable, not TOML), so no made-up field name is shown."""

    def __init__(self, path: Path | str, field_name: str, problem: str):
        self.path = str(path)
        self.field = field_name
        self.problem = problem
        super().__init__(f"{path}: {field_name}: {problem}" if field_name else f"{path}: {problem}")
