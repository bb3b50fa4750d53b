"""What every command shares: settings loading, and the consoles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from elava.settings import Settings, load_settings

console = Console()
# Errors are one line whatever the terminal width: never wrapped by rich.
err_console = Console(stderr=True, soft_wrap=True)


def settings_or_exit(config: Path | None, **overrides: Any) -> Settings:
    """Load settings; a bad field raises SettingsError, which ends the command with status 2."""
    return load_settings(config, **overrides)
