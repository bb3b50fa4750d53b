"""What every command shares: settings loading that fails clearly, and the console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from elava.exceptions import SettingsError
from elava.settings import Settings, load_settings

console = Console()
# Errors are one line whatever the terminal width: never wrapped by rich.
err_console = Console(stderr=True, soft_wrap=True)


def settings_or_exit(config: Path | None, **overrides: Any) -> Settings:
    """Load settings; on a bad field print what is wrong and exit with status 2."""
    try:
        return load_settings(config, **overrides)
    except SettingsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(code=2) from None


def run_or_exit(coroutine: Any) -> Any:
    """``asyncio.run``; a setting refused on the way (e.g. kafka.shard_buckets against the
    layout the store was built with) is a one-line error and exit status 2."""
    import asyncio

    try:
        return asyncio.run(coroutine)
    except SettingsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(code=2) from None
