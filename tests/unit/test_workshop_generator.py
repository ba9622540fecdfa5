"""``make workshop-generator``: the participant's generator folder staged unchanged for ``sam deploy``, our traffic
refused while it plays, and its rounds read back from its log. Fakes stand in for the local stack's clients."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labs.generator import deploy


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_given_the_participants_folder_when_staged_then_the_template_code_uri_holds_exactly_its_code(tmp_path):
    # Given a generator folder with its module, a helper of the participant's, and Python's caches
    folder = tmp_path / "GeneratorLambdaPackage"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "lambda_function.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    (folder / "helpers.py").write_text("X = 1\n")
    (folder / "__pycache__" / "lambda_function.cpython-313.pyc").write_bytes(b"\0")
    build = tmp_path / "build"
    (build / "GeneratorLambdaPackage").mkdir(parents=True)
    (build / "GeneratorLambdaPackage" / "left_by_an_earlier_deploy.py").write_text("")

    # When it is staged
    code = deploy.stage(folder, build)

    # Then the CodeUri folder holds its files byte for byte, and nothing else
    assert code == build / "GeneratorLambdaPackage"
    assert digest(code) == {k: v for k, v in digest(folder).items() if "__pycache__" not in k}
    assert deploy.CODE.relative_to(deploy.HERE).as_posix() == ".build/GeneratorLambdaPackage"
    assert "CodeUri: .build/GeneratorLambdaPackage" in (deploy.HERE / "template.yaml").read_text()


def test_given_a_folder_without_the_generator_when_staged_then_the_user_is_told_which_folder_is_wanted(tmp_path):
    with pytest.raises(deploy.GeneratorError, match="GeneratorLambdaPackage"):
        deploy.stage(tmp_path, tmp_path / "build")
    assert not (tmp_path / "build").exists()


class FakeCloudFormation:
    def __init__(self, status: str | None) -> None:
        self.status = status

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        assert StackName == deploy.STACK_NAME
        if self.status is None:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": "does not exist"}}, "DescribeStacks")
        return {"Stacks": [{"StackStatus": self.status}]}


class FakeLogs:
    def __init__(self, pages: list[list[tuple[int, str]]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def filter_log_events(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        index = int(arguments.get("nextToken", "0"))
        page: dict[str, Any] = {"events": [{"timestamp": t, "message": m} for t, m in self.pages[index]]}
        if index + 1 < len(self.pages):
            page["nextToken"] = str(index + 1)
        return page


class FakeStack:
    def __init__(self, status: str | None, logs: FakeLogs | None = None, outputs: dict[str, str] | None = None):
        self.clients = {"cloudformation": FakeCloudFormation(status), "logs": logs}
        self.outputs = outputs if outputs is not None else {"ParameterTableName": "ParameterTable"}

    def client(self, service: str) -> Any:
        return self.clients[service]


@pytest.mark.parametrize(
    ("status", "refused"),
    [(None, False), ("DELETE_COMPLETE", False), ("CREATE_COMPLETE", True), ("UPDATE_ROLLBACK_COMPLETE", True)],
)
def test_given_the_generator_deployed_or_not_when_our_traffic_asks_then_it_is_refused_only_while_it_plays(
    status, refused, capsys
):
    assert deploy.idle(FakeStack(status)) == (1 if refused else 0)  # type: ignore[arg-type]
    assert ("make workshop-generator-down" in capsys.readouterr().err) is refused
    assert deploy.idle(None) == 0  # no stack up: nothing plays


def test_given_no_stack_or_one_outside_workshop_mode_when_the_generator_is_deployed_then_the_user_is_told_why():
    with pytest.raises(deploy.GeneratorError, match="make up WORKSHOP=1"):
        deploy.workshop_stack(None)
    with pytest.raises(deploy.GeneratorError, match="not in workshop mode"):
        deploy.workshop_stack(FakeStack("CREATE_COMPLETE", outputs={}))  # type: ignore[arg-type]


def test_given_the_generators_log_over_two_pages_when_read_then_each_round_ending_is_listed_in_order():
    # Given its log: a round scored 0, a round scored 100, one that outlived the function's timeout (two pages)
    logs = FakeLogs(
        [
            [(2_000, "New Batch.\n"), (9_000, "Scoring completed. Score for this batch: 100. Total score: 100.\n")],
            [
                (1_000, "Scoring completed. Score for this batch: 0. Total score: 0."),
                (12_000, "Task timed out after 55.00 seconds"),
            ],
        ]
    )

    # When its rounds are read
    lines = deploy.round_lines(logs)

    # Then every round's end is there, oldest first, read from the generator's own log group
    assert [at for at, _ in lines] == [1.0, 9.0, 12.0]
    assert [line.split(".")[0] for _, line in lines] == [
        "Scoring completed",
        "Scoring completed",
        "Task timed out after 55",
    ]
    assert all(call["logGroupName"] == "/aws/lambda/GeneratorLambda" for call in logs.calls) and len(logs.calls) == 2


def generator_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "GeneratorLambdaPackage"
    folder.mkdir()
    (folder / "lambda_function.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    return folder


class LocalStackStub(FakeStack):
    endpoint = "http://127.0.0.1:4599"


def test_given_make_up_in_workshop_mode_when_the_generator_is_deployed_then_sam_deploys_its_local_config_env(
    tmp_path, capsys
):
    # Given the participant's folder and the stack of make up
    runs: list[list[str]] = []
    build = tmp_path / "build"

    # When it is deployed beside the stack
    assert deploy.up(generator_folder(tmp_path), LocalStackStub(None), runs.append, build) == 0  # type: ignore[arg-type]

    # Then its code is staged first, then sam deploys this folder's template with the local config env
    assert (build / "GeneratorLambdaPackage" / "lambda_function.py").is_file()
    assert runs == [["deploy", "--template-file", "template.yaml", "--config-env", "local"]]
    assert "on http://127.0.0.1:4599" in capsys.readouterr().out


def test_given_aws_when_the_generator_is_deployed_and_removed_then_sam_uses_the_default_config_env(tmp_path):
    runs: list[list[str]] = []
    build = tmp_path / "build"
    deploy.up(generator_folder(tmp_path), None, runs.append, build)
    deploy.down(None, runs.append, aws=True, build=build)

    assert runs == [
        ["deploy", "--template-file", "template.yaml", "--config-env", "default"],
        ["delete", "--config-env", "default", "--no-prompts"],
    ]
    assert not build.exists()


@pytest.mark.parametrize(
    ("stack", "deleted"), [(None, False), (LocalStackStub(None), False), (LocalStackStub("CREATE_COMPLETE"), True)]
)
def test_given_make_down_when_the_generator_is_or_is_not_there_then_only_a_deployed_one_is_deleted(
    stack, deleted, tmp_path
):
    # Given a build folder left by a deploy, and the local stack with or without the generator (or no stack)
    build = tmp_path / "build"
    (build / "GeneratorLambdaPackage").mkdir(parents=True)
    runs: list[list[str]] = []

    # When it is taken down (make down, make workshop-generator-down)
    assert deploy.down(stack, runs.append, aws=False, build=build) == 0

    # Then sam deletes the generator's stack only when it is there, and the build folder goes either way
    assert runs == ([["delete", "--config-env", "local", "--no-prompts"]] if deleted else [])
    assert not build.exists()


class FakeParameters:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get_item(self, TableName: str, Key: dict, ConsistentRead: bool) -> dict[str, Any]:
        assert TableName == "ParameterTable" and ConsistentRead
        name = Key["parameter"]["S"]
        return {"Item": {"parameter": {"S": name}, "value": {"N": self.values[name]}}} if name in self.values else {}


def test_given_rounds_played_when_listed_then_each_round_and_the_score_are_printed(capsys):
    # Given a deployed generator that played two rounds, the second in lab 2
    stack = LocalStackStub(
        "CREATE_COMPLETE",
        FakeLogs([[(60_000, "Scoring completed. Score for this batch: 100. Total score: 300.")]]),
    )
    stack.clients["dynamodb"] = FakeParameters({"SCORE": "300", "SPECIAL_TRADES": "1"})

    # When its rounds are listed
    assert deploy.rounds(stack) == 0  # type: ignore[arg-type]

    # Then each round's line and the ParameterTable's SCORE and SPECIAL_TRADES are printed
    out = capsys.readouterr().out
    assert "Score for this batch: 100" in out and "1 rounds ended; SCORE 300, SPECIAL_TRADES 1" in out
    with pytest.raises(deploy.GeneratorError, match="not deployed"):
        deploy.rounds(LocalStackStub(None))  # type: ignore[arg-type]


class NoLogGroupYet(FakeLogs):
    def filter_log_events(self, **arguments: Any) -> dict[str, Any]:
        raise ClientError(
            {"Error": {"Code": "ResourceNotFoundException", "Message": "no log group"}}, "FilterLogEvents"
        )


def test_given_a_generator_that_has_not_logged_yet_when_its_rounds_are_listed_then_none_are(capsys):
    stack = LocalStackStub("CREATE_COMPLETE", NoLogGroupYet([]))
    stack.clients["dynamodb"] = FakeParameters({})

    assert deploy.rounds(stack) == 0  # type: ignore[arg-type]
    assert "0 rounds ended; SCORE (not set), SPECIAL_TRADES (not set)" in capsys.readouterr().out


def test_given_the_command_line_when_the_local_stack_is_missing_or_not_in_workshop_mode_then_it_says_so(
    tmp_path, capsys
):
    # Given no stack of make up, then one outside workshop mode
    none, plain = (lambda: None), (lambda: LocalStackStub(None, outputs={}))

    # Then nothing plays on no stack, and neither rounds nor a deploy go ahead without workshop mode
    assert deploy.main(["idle"], load=none) == 0
    assert deploy.main(["rounds"], load=none) == 1
    assert "make up WORKSHOP=1" in capsys.readouterr().err
    assert deploy.main(["up", str(generator_folder(tmp_path))], load=plain) == 1
    assert "not in workshop mode" in capsys.readouterr().err
    assert deploy._parser().parse_args(["down", "--aws"]).aws is True
    workshop = LocalStackStub(None)
    assert deploy.workshop_stack(workshop) is workshop  # type: ignore[arg-type]


def test_given_a_target_when_its_sam_runner_is_chosen_then_aws_has_the_users_own_and_make_up_its_endpoints():
    assert deploy.sam_for(None) is deploy._sam_on_aws
    assert deploy.sam_for(LocalStackStub(None)) is not deploy._sam_on_aws  # type: ignore[arg-type]
