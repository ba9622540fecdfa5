"""The e2e suite's choice of stack: a named stack that cannot be read fails the run (it does not skip it), and
the region comes from the user's own configuration."""

import subprocess
import sys

from tests.conftest import ROOT


def test_given_a_named_stack_that_cannot_be_read_when_the_e2e_tests_run_then_they_fail_with_the_reason(tmp_path):
    # Given a stack name and credentials that reach nothing (an endpoint on a closed local port)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT / 'layers' / 'shared'}:{ROOT}",
        "RISK_PIPELINE_STACK": "no-such-stack",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_MAX_ATTEMPTS": "1",
    }
    (tmp_path / "config").write_text("[default]\nregion = eu-west-3\n")

    # When the e2e tests run
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests/e2e")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )

    # Then they fail, saying which stack and which region (the user's), and none is skipped
    assert run.returncode == 1, run.stdout[-2000:]
    assert "RISK_PIPELINE_STACK='no-such-stack' names a stack that cannot be read (region eu-west-3)" in run.stdout
    assert " skipped" not in run.stdout.splitlines()[-1]


def test_given_no_region_in_the_environment_when_make_picks_one_then_it_is_the_users_configured_one(tmp_path):
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ap-southeast-2\n[profile other]\nregion = sa-east-1\n")
    env = {"PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": str(config)}

    def region(**extra: str) -> str:
        script = str(ROOT / "scripts" / "aws-region")
        return subprocess.run([script], capture_output=True, text=True, env={**env, **extra}).stdout.strip()

    assert region() == "ap-southeast-2"
    assert region(AWS_PROFILE="other") == "sa-east-1"
    assert region(AWS_DEFAULT_REGION="eu-north-1") == "eu-north-1"
    assert region(AWS_CONFIG_FILE=str(tmp_path / "none")) == "us-east-1"
