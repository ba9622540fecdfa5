"""``make send`` publishes its result whatever the round's end: here a stack whose functions do not run, so the
aggregates never move, and the round is published as not exact."""

from localpipe.ministack.model import MiniStack
from localpipe.ministack.send import send
from localpipe.stack.resources import Deployed
from results.record import ResultStore


def test_given_a_stack_whose_functions_do_not_run_when_a_round_is_sent_then_it_is_published_as_not_exact(
    server_stack: Deployed, moto_endpoint: str, tmp_path
):
    # Given the template's stream and tables on the moto server, and nothing consuming the stream
    names = server_stack.names
    outputs = {"StreamName": names["RiskStream"], "AggregateTableName": names["AggregateTable"]}
    outputs |= {f"{f}FunctionName": f.lower() for f in ("State", "Aggregate", "Reduce")}
    stack = MiniStack(endpoint=moto_endpoint, stack_name="send-test", outputs=outputs)
    store = ResultStore(tmp_path)

    # When one PutRecords call of the producer's round is sent, with no time to wait for the aggregates
    code = send(stack, workshop=False, calls=1, seed=7, timeout=0.0, results=store)

    # Then the round failed, and its result says so, with what was sent
    assert code == 1
    published = store.latest("send")
    assert published is not None
    figures = published["figures"]
    assert figures["exact"] is False and figures["put_calls"] == 1 and figures["messages"] == 40
    assert figures["workshop"] is False and figures["seconds_to_exact"] >= figures["sent_seconds"] >= 0
