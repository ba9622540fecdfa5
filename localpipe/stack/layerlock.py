"""The shared layer as ``sam build`` builds it holds exactly its lock (``python -m localpipe.stack.layerlock``).

``layers/shared/requirements.txt`` is the lock: every package of the layer, transitive ones included, pinned
with its hashes (compiled by ``make layer-lock`` from ``requirements.in``). This checks that

* every requirement of the lock is pinned (``==``) with at least one hash, so that pip refuses anything else;
* every requirement of ``requirements.in`` is in the lock;
* every package of the lock that the project pins too (``requirements-dev.txt``) has the project's version:
  the layer runs what the tests ran (botocore, boto3 and the rest of the SDK included);
* the layer that ``sam build`` makes holds exactly the lock's packages at the lock's versions, nothing more.

``--layer DIR`` checks a layer built already (the directory that holds ``python/``) instead of building one.
"""

from __future__ import annotations

import argparse
import email.parser
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from localpipe.stack.template import ROOT, TEMPLATE_PATH

LAYER = "SharedLayer"
LOCK = ROOT / "layers" / "shared" / "requirements.txt"
INPUT = ROOT / "layers" / "shared" / "requirements.in"
PROJECT_PINS = ROOT / "requirements-dev.txt"
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(==\s*([^\s;\\]+))?")


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(text: str) -> Iterator[tuple[str, str | None, bool]]:
    """(name, pinned version or None, has a hash) of every requirement; continuation lines joined."""
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _NAME.match(line)
        if match is None:
            raise ValueError(f"cannot read the requirement {line!r}")
        yield canonical(match.group(1)), match.group(4), "--hash=" in line


def pins(text: str) -> dict[str, str | None]:
    return {name: version for name, version, _ in _requirements(text)}


def lock_problems(lock: str, wanted: str, project: str) -> list[str]:
    """What is wrong with the lock itself: unpinned or unhashed lines, inputs missing, versions the project
    does not test."""
    problems = []
    for name, version, hashed in _requirements(lock):
        if version is None or not hashed:
            problems.append(f"lock: {name} is not pinned with a hash (regenerate it: make layer-lock)")
    locked, project_pins = pins(lock), pins(project)
    problems += [f"lock: {name} of requirements.in is not in the lock" for name in pins(wanted) if name not in locked]
    for name, version in sorted(locked.items()):
        if name in project_pins and project_pins[name] != version:
            problems.append(f"lock: {name}=={version}, but the project pins and tests {name}=={project_pins[name]}")
    return problems


def built_packages(layer: Path) -> dict[str, str]:
    """Name -> version of every distribution installed in a built layer (its ``python/*.dist-info``)."""
    found = {}
    for info in sorted((layer / "python").glob("*.dist-info")):
        metadata = email.parser.Parser().parsestr((info / "METADATA").read_text(errors="replace"), headersonly=True)
        found[canonical(metadata["Name"])] = metadata["Version"]
    return found


def layer_problems(locked: Mapping[str, str | None], built: Mapping[str, str]) -> list[str]:
    """Every difference between the lock and the built layer."""
    problems = []
    for name in sorted(set(locked) | set(built)):
        want, got = locked.get(name), built.get(name)
        if name not in built:
            problems.append(f"layer: {name}=={want} is locked but not in the built layer")
        elif name not in locked:
            problems.append(f"layer: {name}=={got} is in the built layer but not in the lock")
        elif want != got:
            problems.append(f"layer: {name} is {got} in the built layer, {want} in the lock")
    return problems


def sam_build(build_dir: Path) -> Path:
    """``sam build`` of the shared layer alone, as a deploy builds it; returns the built layer's directory."""
    sam = Path(sys.executable).with_name("sam")
    command = [str(sam), "build", LAYER, "--template", str(TEMPLATE_PATH), "--build-dir", str(build_dir)]
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if result.returncode:
        raise RuntimeError(f"sam build {LAYER} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return build_dir / LAYER


def check(layer: Path | None) -> list[str]:
    lock = LOCK.read_text()
    problems = lock_problems(lock, INPUT.read_text(), PROJECT_PINS.read_text())
    if layer is not None:
        return problems + layer_problems(pins(lock), built_packages(layer))
    with tempfile.TemporaryDirectory(prefix="layer-build-") as build_dir:
        try:
            built = sam_build(Path(build_dir))
        except RuntimeError as exc:
            return [*problems, str(exc)]
        return problems + layer_problems(pins(lock), built_packages(built))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localpipe.stack.layerlock", description=__doc__.split("\n\n")[0])
    parser.add_argument("--layer", type=Path, help="a layer built already (the directory holding python/)")
    args = parser.parse_args(argv)
    problems = check(args.layer)
    for problem in problems:
        print(problem)  # noqa: T201
    locked = pins(LOCK.read_text())
    if problems:
        print(f"the shared layer does NOT match its lock ({len(problems)} problems)")  # noqa: T201
        return 1
    sdk = ", ".join(f"{n} {locked[n]}" for n in ("boto3", "botocore") if n in locked)
    print(f"the shared layer matches its lock: {len(locked)} packages, each pinned with hashes ({sdk})")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
