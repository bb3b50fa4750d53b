"""Command-line flag > environment > config file > default, for every flag that overrides a
setting, on every command that has it.

Each command runs in-process up to the point where it has its settings (captured there, then
stopped); the commands and their flags are read from the command tree itself, so a new
command with one of these flags is covered without a new test, and a new flag that overrides
a setting fails ``test_every_overriding_flag_is_covered`` until it is added to FLAGS.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

import elava.cli.common
from elava.cli.main import app
from elava.settings import load_settings

ROOT = Path(__file__).parents[4]

# the flag's option names -> (setting, yaml of the file layer, env layer, flag's arguments, expected per layer)
FLAGS = {
    ("--bootstrap-servers", "-b"): ("kafka__bootstrap_servers", "kafka: {bootstrap_servers: 'file:9092'}",
                          {"ELAVA_KAFKA__BOOTSTRAP_SERVERS": "env:9092"}, ["--bootstrap-servers", "flag:9092"],
                          ("flag:9092", "env:9092", "file:9092", "127.0.0.1:9092")),
    ("--endpoint-url",): ("providers__aws__endpoint_url", "providers: {aws: {endpoint_url: 'http://file'}}",
                     {"ELAVA_PROVIDERS__AWS__ENDPOINT_URL": "http://env"}, ["--endpoint-url", "http://flag"],
                     ("http://flag", "http://env", "http://file", None)),
    ("--region", "-r"): ("providers__aws__regions", "providers: {aws: {regions: [eu-west-3]}}",
               {"ELAVA_PROVIDERS__AWS__REGIONS": '["eu-west-2"]'}, ["--region", "eu-west-1"],
               (["eu-west-1"], ["eu-west-2"], ["eu-west-3"], ["us-east-1"])),
    ("--enforce",): ("executor__dry_run", "executor: {dry_run: false}", {"ELAVA_EXECUTOR__DRY_RUN": "true"},
                ["--enforce"], (False, True, False, True)),
    ("--path", "-p"): ("policies__path", "policies: {path: /file}", {"ELAVA_POLICIES__PATH": "/env"}, ["--path", "/flag"],
             (Path("/flag"), Path("/env"), Path("/file"), None)),
    ("--mode", "-m"): ("policies__enforcement_mode", "policies: {enforcement_mode: monitor}",
             {"ELAVA_POLICIES__ENFORCEMENT_MODE": "enforce"}, ["--mode", "notify"],
             ("notify", "enforce", "monitor", "notify")),
    ("--api",): ("api__url", "api: {url: 'http://file:6066'}", {"ELAVA_API__URL": "http://env:6066"},
                 ["--api", "http://flag:6066"], ("http://flag:6066", "http://env:6066", "http://file:6066", None)),
}


def commands(group=None, prefix=()) -> list[tuple[tuple[str, ...], object]]:
    group = group or get_command(app)
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.extend(commands(command, (*prefix, name)))
        else:
            found.append(((*prefix, name), command))
    return found


FILE, TIMES = "<file>", {"time", "since"}


def cases() -> list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    """(command, flag, required arguments' values, required options) for every command with one of FLAGS that
    reads settings (takes --config; `elava demo` builds its own story's settings). A flag is
    known by all its names: `elava at --region` (no -r) filters the inventory, it sets nothing."""
    found = []
    for argv, command in commands():
        flags = {tuple(param.opts) for param in command.params}
        if ("--config", "-c") not in flags:
            continue
        # A required argument gets an existing file (what most take), or a time where it is one.
        required = tuple("1d" if param.name in TIMES else FILE for param in command.params
                         if param.required and param.param_type_name == "argument")
        options = [param.opts[0] for param in command.params if param.required and param.param_type_name == "option"]
        found.extend((argv, flag, required, tuple(options)) for flag in sorted(flags & set(FLAGS)))
    return found


class Captured(Exception):
    pass


def value_of(settings, dotted: str):
    for part in dotted.split("__"):
        settings = getattr(settings, part)
    return settings


@pytest.mark.parametrize(("argv", "flag", "required", "options"), cases(),
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v))
@pytest.mark.parametrize("layer", ["flag", "env", "file", "default"])
def test_flag_beats_env_beats_file_beats_default(argv, flag, required, options, layer, tmp_path, monkeypatch):
    setting, yaml_text, env, flag_args, expected = FLAGS[flag]
    for name in ("AWS_ENDPOINT_URL", "ELAVA_CONFIG", *env):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./elava.yaml but ours
    config = tmp_path / "layers.yaml"
    config.write_text(yaml_text)
    layers = ["flag", "env", "file", "default"]
    given = layers[layers.index(layer):]
    if "env" in given:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
    argument = tmp_path / "argument.json"  # what a required argument gets: an existing file
    argument.write_text("{}")
    # A required option is a window's start (`elava changes --since`): a time.
    args = [*argv, *[str(argument) if value == FILE else value for value in required], *[part for option in options for part in (option, "1d")],
            *(flag_args if "flag" in given else []),
            *(["--config", str(config)] if "file" in given else [])]
    seen = []

    def capture(path=None, **overrides):
        seen.append(load_settings(path, **overrides))
        raise Captured

    monkeypatch.setattr(elava.cli.common, "load_settings", capture)
    result = CliRunner().invoke(app, args, catch_exceptions=True)
    assert seen, f"`elava {' '.join(args)}` did not reach its settings: {result.output}"
    assert value_of(seen[0], setting) == expected[layers.index(layer)]


def test_the_commands_with_these_flags_are_found():
    covered = {(" ".join(argv), flag) for argv, flag, *_ in cases()}
    assert {("worker", ("--bootstrap-servers", "-b")), ("scan", ("--region", "-r")),
            ("executor", ("--enforce",)), ("policy list", ("--path", "-p")), ("changes", ("--api",))} <= covered
    assert not any(argv == "at" and flag != ("--api",) for argv, flag in covered)


def test_every_overriding_flag_is_covered():
    """Every setting a command passes to settings_or_exit has its row in FLAGS."""
    overridden = set()
    for path in (ROOT / "elava" / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "settings_or_exit":
                overridden |= {keyword.arg for keyword in node.keywords}
    assert overridden == {setting for setting, *_ in FLAGS.values()}
