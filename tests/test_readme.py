"""The README's plug-in objective example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_plugin_example_trains_and_is_scored(capsys) -> None:
    text = README.read_text()
    block = re.search(r"<!-- plugin-example -->\n```python\n(.*?)```", text, re.S)
    assert block is not None
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 30
    exec(compile(code, "README plug-in example", "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out
    scores = eval(printed.strip().splitlines()[-1])  # the dict of balanced accuracies it prints
    assert set(scores) == {"redundancy", "unique1", "unique2", "synergy", "all"}
    assert scores["redundancy"] > 0.9
