"""The README stays a page a newcomer reads in five minutes, and the docs hold together: README.md has at most 150
lines, every relative link in README.md and docs/**/*.md reaches a file (and a heading, by GitHub's anchor rules,
where it names one), and every ``make <target>`` the README names is a target of the Makefile."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_README_LINES = 150

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
MAKE_TARGET = re.compile(r"\bmake ([A-Za-z][\w%-]*)")
RULE = re.compile(r"^([A-Za-z0-9_.%-]+(?:[ \t]+[A-Za-z0-9_.%-]+)*)[ \t]*::?(?!=)", re.MULTILINE)


def without_code(markdown: str) -> str:
    """The text outside fenced blocks and code spans: a link written as code is an example, not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def github_anchor(heading: str) -> str:
    """GitHub's id for a heading: its text (a link's text, not its address) lowercased, every character but letters,
    digits, ``_``, ``-`` and spaces dropped, each space a ``-``."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return "".join(c for c in text if c.isalnum() or c in "_- ").replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors of a page's headings; a heading met again gets ``-1``, ``-2``... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", markdown)):
        slug = github_anchor(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(page: Path) -> Iterator[str]:
    """Each relative link of a page that reaches no file, or no heading of the page it names."""
    for target in LINK.findall(without_code(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        reached = (page.parent / path).resolve() if path else page
        if not reached.exists():
            yield f"{page.relative_to(ROOT)}: {target} (no such file)"
        elif anchor and (reached.is_dir() or reached.suffix != ".md" or anchor not in anchors(reached.read_text())):
            yield f"{page.relative_to(ROOT)}: {target} (no such heading)"


def makefile_targets(makefile: str) -> set[str]:
    return {name for names in RULE.findall(makefile) for name in names.split()}


def is_target(name: str, targets: set[str]) -> bool:
    """A target the Makefile defines, or one its pattern rules make (``lab%-check`` makes ``lab2-check``)."""
    patterns = [re.escape(t).replace("%", ".+") for t in targets if "%" in t]
    return name in targets or any(re.fullmatch(p, name) for p in patterns)


def pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]


def test_given_the_readme_when_its_lines_are_counted_then_there_are_at_most_150():
    # Given README.md, When its lines are counted
    lines = len(README.read_text().splitlines())

    # Then a newcomer reads it in five minutes: everything else is in docs/
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines: move the rest to the docs/ page of its reader"


def test_given_the_readme_and_docs_when_their_relative_links_are_followed_then_each_reaches_its_file_and_heading():
    # Given the README and every page under docs/
    assert len(pages()) > 10

    # When every relative link is followed
    broken = [problem for page in pages() for problem in broken_links(page)]

    # Then each reaches a file, and the heading it names
    assert broken == []


def test_given_the_readme_when_it_names_make_targets_then_the_makefile_has_each():
    # Given the targets the README tells a reader to run, and the Makefile's
    named = set(MAKE_TARGET.findall(README.read_text()))
    targets = makefile_targets((ROOT / "Makefile").read_text())
    assert {"demo", "test", "up", "down", "help"} <= named

    # When each is looked up, Then the Makefile defines it
    assert sorted(name for name in named if not is_target(name, targets)) == []


def test_given_a_page_with_a_broken_link_and_a_missing_heading_when_checked_then_both_are_found(tmp_path, monkeypatch):
    # Given a page linking to a file that exists, a heading that exists, a file that does not and a heading that does
    # not; and links written as code, which are examples
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    headings = "# Other\n\n## The workshop's clock: `make up`, (MiniStack)\n\n## Again\n\n## Again\n"
    (tmp_path / "other.md").write_text(headings)
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok](other.md#the-workshops-clock-make-up-ministack) [ok](other.md#again-1) [ok](#top)\n"
        "[gone](missing.md) [no heading](other.md#nowhere) [web](https://example.com/x#y)\n"
        "`[code](missing-too.md)`\n\n```\n[fenced](missing-three.md)\n```\n\n# Top\n"
    )

    # When its links are checked
    problems = list(broken_links(page))

    # Then the missing file and the missing heading are reported, nothing else
    assert problems == ["page.md: missing.md (no such file)", "page.md: other.md#nowhere (no such heading)"]


def test_given_a_makefile_when_its_targets_are_read_then_rules_and_patterns_count_and_variables_do_not():
    # Given rules, a pattern rule and variable assignments
    makefile = "VENV := .venv\nPY ?= python\nup: $(STAMP) ## up\nlab%-check: x\nbuild clean: y\n"

    # When its targets are read
    targets = makefile_targets(makefile)

    # Then the rules and the pattern's instances are targets, and the variables are not
    assert targets == {"up", "lab%-check", "build", "clean"}
    assert is_target("lab2-check", targets)
    assert not is_target("VENV", targets)
    assert not is_target("deploy", targets)
