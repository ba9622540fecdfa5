"""The local runner's layout holds: no module over 300 lines, and every ``python -m`` entry point the Makefile, CI
and the docs name is a module that exists (the rooms and their import rules are import-linter's: ``make imports``)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 300
ENTRY_POINT = re.compile(r"python -m (localpipe(?:\.\w+)*)")


def test_given_the_local_runner_when_its_modules_are_measured_then_none_is_over_300_lines():
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in (ROOT / "localpipe").rglob("*.py")}

    assert len(lengths) > 40
    assert {path: n for path, n in lengths.items() if n > MAX_LINES} == {}


def test_given_the_makefile_ci_and_docs_when_they_run_a_localpipe_module_then_it_exists():
    # Given every `python -m localpipe...` they give (the Makefile's $(PY) -m too)
    texts = [ROOT / "Makefile", ROOT / ".ci" / "run", ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    texts += sorted((ROOT / "scripts").iterdir())
    named = {
        match for path in texts for match in ENTRY_POINT.findall(path.read_text().replace("$(PY) -m ", "python -m "))
    }

    # When each is looked up, Then it is a module to run: a package with __main__, or a module
    assert {"localpipe", "localpipe.ministack", "localpipe.containers.sam_local"} <= named
    for module in sorted(named):
        spec = importlib.util.find_spec(module)
        assert spec is not None, module
        if spec.submodule_search_locations is not None:  # a package: run through its __main__
            assert importlib.util.find_spec(f"{module}.__main__") is not None, module
