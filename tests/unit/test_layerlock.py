"""The layer lock check: the lock pins every package with hashes at the project's versions, and a built layer
that drifts from it (a package more, a package less, another version) is caught."""

from pathlib import Path

from localpipe.stack.layerlock import LOCK, PROJECT_PINS, built_packages, layer_problems, lock_problems, pins

LOCK_TEXT = """\
boto3==1.43.108 \\
    --hash=sha256:aaaa
    # via -r requirements.in
botocore==1.43.127 \\
    --hash=sha256:bbbb \\
    --hash=sha256:cccc
    # via boto3
typing-extensions==4.16.0 \\
    --hash=sha256:dddd
"""
PROJECT = "boto3==1.43.108\nbotocore==1.43.127\ntyping_extensions==4.16.0\nmoto==5.2.5\n"


def layer(tmp_path: Path, packages: dict[str, str]) -> Path:
    for name, version in packages.items():
        info = tmp_path / "python" / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n")
    return tmp_path


def test_given_the_projects_lock_when_read_then_every_package_is_pinned_with_hashes_at_the_projects_version():
    lock = LOCK.read_text()
    assert lock_problems(lock, (LOCK.parent / "requirements.in").read_text(), PROJECT_PINS.read_text()) == []
    locked, project = pins(lock), pins(PROJECT_PINS.read_text())
    assert locked["botocore"] == project["botocore"] and locked["boto3"] == project["boto3"]


def test_given_a_layer_built_as_locked_when_checked_then_nothing_is_reported(tmp_path):
    built = built_packages(
        layer(tmp_path, {"boto3": "1.43.108", "botocore": "1.43.127", "typing_extensions": "4.16.0"})
    )
    assert lock_problems(LOCK_TEXT, "boto3\n", PROJECT) == []
    assert layer_problems(pins(LOCK_TEXT), built) == []


def test_given_a_layer_that_drifted_when_checked_then_each_difference_is_reported(tmp_path):
    # Given a layer with a newer botocore than locked, a package the lock does not have, and one missing
    built = built_packages(layer(tmp_path, {"botocore": "1.44.8", "typing-extensions": "4.16.0", "jmespath": "1.1.0"}))
    # When it is compared with the lock
    problems = layer_problems(pins(LOCK_TEXT), built)
    # Then each drift is named
    assert problems == [
        "layer: boto3==1.43.108 is locked but not in the built layer",
        "layer: botocore is 1.44.8 in the built layer, 1.43.127 in the lock",
        "layer: jmespath==1.1.0 is in the built layer but not in the lock",
    ]


def test_given_a_lock_without_hashes_or_off_the_projects_pins_when_checked_then_it_is_refused():
    lock = "boto3==1.43.108\nbotocore==1.44.8 \\\n    --hash=sha256:bbbb\npydantic>=2 \\\n    --hash=sha256:eeee\n"
    assert lock_problems(lock, "boto3\nmoto\n", PROJECT) == [
        "lock: boto3 is not pinned with a hash (regenerate it: make layer-lock)",
        "lock: pydantic is not pinned with a hash (regenerate it: make layer-lock)",
        "lock: moto of requirements.in is not in the lock",
        "lock: botocore==1.44.8, but the project pins and tests botocore==1.43.127",
    ]
