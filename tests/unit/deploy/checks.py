"""What the Compose and Kubernetes tests check alike, read from the code itself.

The settings model, the CLI and the topic catalog are walked at test time, so these
checks stay right while settings and commands are added.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer.main
from pydantic import BaseModel

from elava.cli.main import app
from elava.settings import Settings, load_settings
from elava.topics import CATALOG

REPO = Path(__file__).resolve().parents[3]
# Read by elava.settings.default_config_path, not a field of the model.
CONFIG_VARIABLE = "ELAVA_CONFIG"
PENDING = re.compile(r"pending\(([a-z0-9_.]+)\)")
TOPIC_MENTION = re.compile(r"<prefix>\.([a-z][a-z-]*)")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _names(model: type[BaseModel], prefix: str, delimiter: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        yield env
        section = _model_of(field.annotation)
        if section is not None:
            yield from _names(section, env + delimiter, delimiter)


def settings_variables() -> set[str]:
    """Every ELAVA_* name the settings read: ELAVA_<SECTION>__<FIELD> down every section."""
    config = Settings.model_config
    return set(_names(Settings, config["env_prefix"], config["env_nested_delimiter"])) | {CONFIG_VARIABLE}


def setting_exists(dotted: str) -> bool:
    """``worker.api_token`` -> whether the model has that field."""
    model: type[BaseModel] | None = Settings
    for part in dotted.split("."):
        if model is None or part not in model.model_fields:
            return False
        model = _model_of(model.model_fields[part].annotation)
    return True


def unknown_variables(names: list[str]) -> list[str]:
    known = settings_variables()
    return sorted(name for name in names if name.startswith("ELAVA_") and name not in known)


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Exactly these ELAVA_* variables (and no others from the test's own environment)."""
    saved = {key: value for key, value in os.environ.items() if key.startswith("ELAVA_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:
        for key in [key for key in os.environ if key.startswith("ELAVA_")]:
            del os.environ[key]
        os.environ.update(saved)


def image_environment() -> dict[str, str]:
    """The ELAVA_* variables deploy/Dockerfile sets (ENV): every container starts with them."""
    text = (REPO / "deploy" / "Dockerfile").read_text()
    return dict(re.findall(r"^ENV\s+(ELAVA_[A-Z0-9_]+)=(\S+)", text, re.MULTILINE))


def settings_for(config_file: Path | None, env: Mapping[str, str]) -> Settings:
    """The settings a container gets: its config file, then the image's and its own ELAVA_* variables."""
    return _load(config_file, {**image_environment(), **env})


def _load(config_file: Path | None, env: Mapping[str, str]) -> Settings:
    elava_env = {key: value for key, value in env.items() if key.startswith("ELAVA_") and key != CONFIG_VARIABLE}
    with environment(elava_env):
        return load_settings(config_file)


def shadowed_settings(config_file: Path) -> list[str]:
    """Settings of the file that the image's environment overrides (env beats the file)."""
    from_file, effective = _load(config_file, {}), settings_for(config_file, {})
    config = Settings.model_config
    shadowed = []
    for name in image_environment():
        path = name.removeprefix(config["env_prefix"]).lower().split(config["env_nested_delimiter"])
        ours, theirs = from_file, effective
        for part in path:
            ours, theirs = getattr(ours, part), getattr(theirs, part)
        if ours != theirs:
            shadowed.append(".".join(path))
    return shadowed


def cli_error(args: list[str]) -> str | None:
    """None when ``elava <args>`` names a command and its options parse, else why not.

    Typer builds its commands on its own copy of click, so this goes by the commands'
    public interface (a group has ``commands``; ``make_context`` parses without running).
    """
    command = typer.main.get_command(app)
    rest, path = list(args), ["elava"]
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        if rest[0] not in command.commands:
            return f"no command {' '.join(path + rest[:1])!r}"
        path.append(rest.pop(0))
        command = command.commands[path[-1]]
    if hasattr(command, "commands"):
        return f"{' '.join(path)!r} is a group, not a command"
    try:
        command.make_context(" ".join(path), rest)
    except Exception as exc:  # click's UsageError family, from typer's copy of click
        return f"{' '.join(path + rest)}: {getattr(exc, 'format_message', exc.__str__)()}"
    return None


def pending_settings(text: str) -> list[str]:
    """Settings named in ``pending(section.field)`` markers: lines kept out until they land."""
    return PENDING.findall(text)


def topic_suffixes() -> set[str]:
    return {spec.suffix for spec in CATALOG}


def unknown_topic_mentions(text: str) -> list[str]:
    return sorted(set(TOPIC_MENTION.findall(text)) - topic_suffixes())


def image_is_pinned(image: str) -> bool:
    """A tag that names a patch release (or a digest), never a moving one like latest or 3.11."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and re.fullmatch(r"v?\d+\.\d+\.\d+(-[a-z0-9.]+)*", tag) is not None
