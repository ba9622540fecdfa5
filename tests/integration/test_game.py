"""The game loop's real handler on the local stack: while it waits, the local pipeline (the real StateLambda
and aggregate, faults on) drains the stream; the round is scored exact. Without the pipeline it is scored 0."""

from functions.game import app as game_app
from localpipe.faults.rates import FaultRates
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.stack.lambda_context import LocalContext
from riskpipe.aggregate_store import read_aggregates
from riskpipe.config import GameSettings
from riskpipe.publisher import KinesisPublisher


def game(stack, sleep, clock=None):
    settings = GameSettings.from_env(stack.function_env(stack.template.functions()["GameFunction"]))
    publisher = KinesisPublisher(settings.stream_name, stack.client("kinesis"), sleep=lambda _: None)
    extra = {"clock": clock} if clock else {}
    return game_app.build_handler(
        publisher,
        lambda: read_aggregates(stack.client("dynamodb"), settings.aggregate_table_name),
        settings,
        sleep=sleep,
        **extra,
    )


def test_given_the_pipeline_runs_while_the_game_waits_when_a_round_is_scored_then_it_is_exact(stack):
    pipeline = LocalPipeline(stack, rates=FaultRates(function_errors=0.1, crash_after_write=0.1), seed=4)
    handler = game(stack, sleep=lambda _: pipeline.drain())
    result = handler({"profile": "workshop", "round_id": "t1", "seed": 1, "calls": 3}, LocalContext("game"))
    assert result["exact"] is True and result["sent"] == 3 * 40 and result["differences"] == {}


def test_given_no_consumer_when_a_round_is_scored_then_it_is_not_exact(stack):
    seconds = iter(range(0, 10_000, 10))  # each look at the clock is ten seconds later
    handler = game(stack, sleep=lambda _: None, clock=lambda: float(next(seconds)))
    result = handler({"round_id": "t2", "seed": 2, "calls": 2}, LocalContext("game"))
    assert result["exact"] is False and result["differences"]
