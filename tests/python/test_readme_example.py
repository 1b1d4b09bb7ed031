"""The README's Python example, run as written (it is the package's quick start)."""
import contextlib
import io
import os
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
MARK = "# PYTHONPATH=build/python python3 example.py"


def test_readme_example_runs_as_written(tmp_path, monkeypatch):
    """Catches the README's example drifting from the package (a renamed setting, attribute or
    function fails it) or no longer fitting the sine set (its R² is printed and checked here)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(MARK)
    code = text[start:text.index("```", start)]
    monkeypatch.chdir(tmp_path)  # it saves sine.json in the working folder
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {"__name__": "__main__"})
    lines = printed.getvalue().splitlines()
    assert float(re.search(r"R² on the training set: ([0-9.]+)", lines[0]).group(1)) > 0.98, lines
    assert float(re.search(r"R² ([0-9.]+)$", lines[1]).group(1)) > 0.98, lines
    assert os.path.exists(tmp_path / "sine.json")
