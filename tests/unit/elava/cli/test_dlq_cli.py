"""`elava dlq` refuses what it cannot read before it touches Kafka (the rest: tests/integration/test_dlq_replay.py)."""

from typer.testing import CliRunner

from elava.cli.main import app


def test_an_unreadable_since_is_a_one_line_error():
    for command in ("list", "replay"):
        result = CliRunner().invoke(app, ["dlq", command, "-b", "127.0.0.1:1", "--since", "last tuesday"],
                                    env={"COLUMNS": "200"})
        assert result.exit_code == 2
        (line,) = result.output.strip().splitlines()
        assert line.startswith("error: --since: not a time: 'last tuesday'")
