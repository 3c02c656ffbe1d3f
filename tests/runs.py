"""Helpers for tests that drive the CLI: run a command, read a run folder's metrics."""
import json

from tinycompress import cli


def run_cli(args) -> None:
    """``tinycompress <args> --no-progress``, asserting it succeeds."""
    assert cli.main(args + ["--no-progress"]) == 0


def read_metrics(folder) -> list[dict]:
    """The rows of ``folder/metrics.jsonl`` without their wall-clock ``seconds``."""
    with open(folder / "metrics.jsonl") as f:
        rows = [json.loads(line) for line in f]
    for row in rows:
        row.pop("seconds")
    return rows
