"""The DynamoDB workshop's own generator, unchanged, for N rounds against the stack of ``make up WORKSHOP=1``.

``make workshop-rounds GENERATOR=/path/to/GeneratorLambdaPackage`` loads that folder's ``lambda_function.py``
with the stack's environment set (boto3 reads it), and calls its ``lambda_handler`` once a round, in one process,
as its one-minute schedule does: 250 ``PutRecords`` of 40, 30 s of sleep, its own check and score. Lab 2 comes
when the generator's ``SCORE`` reaches 300 (it turns on its duplicates, revisions and failure percentages
itself); if it has not by the last round, the last round is played in lab 2 all the same, with the parameters the
generator would have written (said in the output).

The generator's code runs as it is. This module only observes it: it wraps ``generate_messages`` to keep the
round's totals and the times of its first and last put, and after each round it waits for the AggregateTable to
equal those totals (the stack drains between rounds, so the next round's "before" is settled). One JSON line a
round: its score, how long the puts took, when the aggregates were exact after the last put, and the largest
difference; the rounds published as docs/results/workshop-rounds.json (``make results``). Exit 0 when every round
scored 100, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from localpipe.ministack import state as ministack
from results.record import publish

DRAIN_SECONDS = 300.0
CLOCK_SECONDS = 30.0  # the generator's time.sleep(30) between its last put and its check
LAB_2_SCORE = 300


def load_generator(folder: Path) -> ModuleType:
    source = folder / "lambda_function.py"
    if not source.is_file():
        raise SystemExit(f"{source} not found: GENERATOR must be the workshop's GeneratorLambdaPackage folder")
    spec = importlib.util.spec_from_file_location("lambda_function", source)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Observer:
    """Keeps what the generator sent in its last round; its ``generate_messages`` is wrapped, not changed."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator
        self.totals: dict[str, float] = {}
        self.first = self.last = 0.0
        self.special = False
        original = generator.generate_messages

        def observed(special: bool) -> Any:
            started = time.time()
            totals = original(special)
            self.totals, self.first, self.last, self.special = dict(totals), started, time.time(), bool(special)
            return totals

        generator.generate_messages = observed

    def aggregates(self) -> dict[str, Decimal]:
        found: dict[str, Decimal] = {}
        arguments: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self.generator.aggregate_table.scan(**arguments)
            found.update({item["Identifier"]: item["Value"] for item in page.get("Items", []) if "Value" in item})
            if "LastEvaluatedKey" not in page:
                return found
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def difference(self, expected: dict[str, float], before: dict[str, Decimal]) -> float | None:
        """The largest difference between the generator's totals and what the round added; None if one is missing."""
        after = self.aggregates()
        worst = 0.0
        for identifier, total in expected.items():
            if identifier.startswith("count"):  # the generator's own counters, not checked by it either
                continue
            if identifier not in after:
                return None
            worst = max(worst, abs(total - float(after[identifier] - before.get(identifier, Decimal(0)))))
        return worst


def parameter(generator: Any, name: str) -> Any:
    return generator.get_parameter(generator.ddb_ressource, name, 0)


def enter_lab_2(generator: Any) -> None:
    """What the generator itself writes when ``SCORE`` reaches 300."""
    for name, value in (
        ("SCORE", LAB_2_SCORE),
        ("SPECIAL_TRADES", 1),
        ("FAILURE_STATE_LAMBDA_PCT", generator.FAILURE_STATE_LAMBDA_PCT),
        ("FAILURE_MAP_LAMBDA_PCT", generator.FAILURE_MAP_LAMBDA_PCT),
        ("FAILURE_REDUCE_LAMBDA_PCT", generator.FAILURE_REDUCE_LAMBDA_PCT),
    ):
        generator.set_parameter(generator.ddb_ressource, name, value)


def play(generator: Any, observer: Observer, number: int) -> dict[str, Any]:
    score_before = parameter(generator, "SCORE")
    before = observer.aggregates()
    generator.lambda_handler({}, None)
    expected = generator.aggregate_along_tree(dict(observer.totals))
    score = parameter(generator, "SCORE") - score_before
    difference = observer.difference(expected, before)
    while (difference is None or difference > 1e-5) and time.time() - observer.last < DRAIN_SECONDS:
        time.sleep(0.5)
        difference = observer.difference(expected, before)
    exact = difference is not None and difference <= 1e-5
    after_last_put = time.time() - observer.last
    return {
        "round": number,
        "lab": 2 if observer.special else 1,
        "score": int(score),
        "puts_s": round(observer.last - observer.first, 1),
        # the generator checks 30 s after its last put: a round found exact then is reported as 30.0
        "exact_after_last_put_s": round(after_last_put, 1) if exact else None,
        "max_abs_difference": difference,
        "SCORE": int(parameter(generator, "SCORE")),
    }


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make workshop-rounds", description=__doc__.split("\n\n")[0])
    parser.add_argument("generator", type=Path, help="the workshop's GeneratorLambdaPackage folder")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    stack = ministack.require()
    os.environ.update(stack.environment())  # before the generator makes its clients, at import
    generator = load_generator(args.generator)
    observer = Observer(generator)
    scores, played = [], []
    for number in range(1, args.rounds + 1):
        if number == args.rounds and not parameter(generator, "SPECIAL_TRADES"):
            enter_lab_2(generator)
            say(f"round {number} in lab 2: SCORE set to {LAB_2_SCORE} and the generator's lab-2 parameters written")
        result = play(generator, observer, number)
        scores.append(result["score"])
        played.append(result)
        say(json.dumps(result))
    say(f"workshop rounds: {sum(s == 100 for s in scores)} of {len(scores)} scored 100; SCORE {result['SCORE']}")
    say(f"published as {publish('workshop-rounds', {'rounds': played, 'SCORE': result['SCORE']})} (make results)")
    return 0 if all(s == 100 for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
