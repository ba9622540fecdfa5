"""Every sample event in events/ does what events/expected.json says, through the real handler, on a fresh
stack built from template.yaml (moto). The same expectations are checked in Lambda containers by
``make sam-local-check``."""

import pytest

from localpipe.containers.samples import load_expectations, mismatches, observe, sample_events, seed
from localpipe.pipeline.pipeline import LocalPipeline

EXPECTATIONS = load_expectations()


def test_given_the_sample_events_when_listed_then_each_has_an_expectation():
    assert sample_events() == sorted(EXPECTATIONS)


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_given_a_sample_event_when_its_function_handles_it_then_the_stack_holds_what_is_expected(stack, name):
    # Given a fresh stack (with the partials the event stands for) and the real handlers wired as the template does
    expectation = EXPECTATIONS[name]
    seed(stack, expectation)
    pipeline = LocalPipeline(stack)
    invoke = {
        "StateFunction": pipeline.invoke_state,
        "AggregateFunction": pipeline.invoke_aggregate,
        "ReduceFunction": pipeline.invoke_reduce,
        "ProducerFunction": pipeline.invoke_producer,
    }[expectation.function]
    # When the sample event is delivered once
    response = invoke(expectation.load_event())
    # Then the response and the tables, queue and stream are exactly as expected
    assert mismatches(expectation, observe(stack, response)) == []
