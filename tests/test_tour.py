"""docs/tour: every script runs as written (in-process, in a scratch folder) and its own asserts hold."""
import glob
import os
import runpy
import sys

import pytest

import tinycompress as tc

TOUR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "tour")
SCRIPTS = sorted(glob.glob(os.path.join(TOUR, "[0-9][0-9]_*.py")))


def test_the_tour_has_ten_scripts_each_with_its_page():
    assert len(SCRIPTS) == 10
    index = open(os.path.join(TOUR, "README.md"), encoding="utf-8").read()
    for script in SCRIPTS:
        stem = os.path.splitext(os.path.basename(script))[0]
        assert os.path.exists(os.path.join(TOUR, stem + ".md")) and f"({stem}.md)" in index


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: os.path.basename(p)[:-3])
def test_tour_script_runs(script, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [script, str(tmp_path / "graph.svg")])
    state = tc.get_rng_state()
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        tc.set_rng_state(state)
    assert capsys.readouterr().out.strip()                     # each script shows what it computed
