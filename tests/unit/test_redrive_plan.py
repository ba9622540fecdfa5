"""The redrive's decisions: AWS's on-failure invocation records read as ranges; the records put back on the stream
(the newest of each trade, only when newer than the StateTable); poison copies counted once; the trades whose marker
lags; what each message becomes and the last line."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal

import pytest

from localpipe.esm.destinations import invocation_record
from localpipe.redrive.messages import MalformedMessageError, QueueMessage, batch_info, poison_record, set_aside
from localpipe.redrive.plan import (
    FAILED,
    PAST_RETENTION,
    SET_ASIDE,
    STATELESS_MARKER,
    UNDECODABLE,
    Fates,
    RedriveReport,
    StreamedRecord,
    behind,
    copies,
    decode_all,
    edited_records,
    gaps,
    reason,
    why,
)
from localpipe.stack.shapes import risk_message, trade_image
from riskpipe.aggregation import AppliedState, Contribution, SetAsideChange
from riskpipe.errors import InvalidChangeError, TransactionConflictError
from riskpipe.partials import SetAsidePartial

# AWS's documented invocation records (Lambda developer guide: "Retain discarded batch records"), as SQS receives them.
KINESIS_RECORD = {
    "requestContext": {
        "requestId": "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 1,
    },
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
    "version": "1.0",
    "timestamp": "2019-11-14T00:38:06.021Z",
    "KinesisBatchInfo": {
        "shardId": "shardId-000000000001",
        "startSequenceNumber": "49601189658422359378836298521827638475320189012309704722",
        "endSequenceNumber": "49601189658422359378836298522902373528957594348623495186",
        "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
        "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
        "batchSize": 500,
        "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream",
    },
}
DYNAMODB_RECORD = {
    "requestContext": {
        "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 1,
    },
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
    "version": "1.0",
    "timestamp": "2019-11-14T00:13:49.717Z",
    "DDBStreamBatchInfo": {
        "shardId": "shardId-00000001573689847184-864758bb",
        "startSequenceNumber": "800000000003126276362",
        "endSequenceNumber": "800000000003126276362",
        "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
        "approximateArrivalOfLastRecord": "2019-11-14T00:13:19Z",
        "batchSize": 1,
        "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388",
    },
}


def message(body: object, queue: str = "state", message_id: str = "m1") -> QueueMessage:
    return QueueMessage(queue, message_id, f"receipt-{message_id}", body if isinstance(body, str) else json.dumps(body))


def record(trade: str, version: int, sequence: int, source: str = "state", shard: str = "shardId-0") -> StreamedRecord:
    return StreamedRecord(source, shard, str(sequence), trade, risk_message(trade, version).to_wire())


def test_given_awss_invocation_records_when_read_then_they_name_the_shard_and_the_range_given_up():
    kinesis = batch_info(message(KINESIS_RECORD))
    assert kinesis.shard_id == "shardId-000000000001" and kinesis.size == 500 and kinesis.stream_name == "mystream"
    assert kinesis.covers("49601189658422359378836298522000000000000000000000000000")
    assert not kinesis.covers("49601189658422359378836298522902373528957594348623495187")
    dynamodb = batch_info(message(DYNAMODB_RECORD, "map"))
    assert dynamodb.start == dynamodb.end == "800000000003126276362"
    assert dynamodb.first_arrival is not None and dynamodb.first_arrival.year == 2019


@pytest.mark.parametrize("documented", [KINESIS_RECORD, DYNAMODB_RECORD], ids=["Kinesis", "DynamoDB"])
def test_given_a_range_when_its_invocation_record_is_built_then_it_is_awss_documented_one(documented):
    # Given the range AWS's example names
    info = batch_info(message(documented))
    kind = next(key for key in documented if key.endswith("BatchInfo"))
    # When the record is built for it, at AWS's example times
    built = invocation_record(
        stream_arn=info.stream_arn,
        shard_id=info.shard_id,
        start=info.start,
        end=info.end,
        size=info.size,
        first_arrival=datetime.fromisoformat(documented[kind]["approximateArrivalOfFirstRecord"]),
        last_arrival=datetime.fromisoformat(documented[kind]["approximateArrivalOfLastRecord"]),
        function_arn=documented["requestContext"]["functionArn"],
        condition=documented["requestContext"]["condition"],
        attempts=documented["requestContext"]["approximateInvokeCount"],
        now=datetime.fromisoformat(documented["timestamp"]),
        request_id=documented["requestContext"]["requestId"],
    )
    # Then it is AWS's, key for key and value for value (times to the millisecond), and reads back as the range
    assert built.keys() == documented.keys() and built[kind].keys() == documented[kind].keys()
    assert built["requestContext"] == documented["requestContext"]
    assert built["responseContext"] == documented["responseContext"]
    assert {k: v for k, v in built[kind].items() if not k.startswith("approximate")} == {
        k: v for k, v in documented[kind].items() if not k.startswith("approximate")
    }
    for key in ("approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"):
        assert datetime.fromisoformat(built[kind][key]) == datetime.fromisoformat(documented[kind][key])
    assert batch_info(message(built)) == info


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        [1, 2],
        {"requestContext": {}},
        {"KinesisBatchInfo": {"shardId": "s"}},
        {**KINESIS_RECORD, "DDBStreamBatchInfo": DYNAMODB_RECORD["DDBStreamBatchInfo"]},
        {
            "KinesisBatchInfo": {
                **KINESIS_RECORD["KinesisBatchInfo"],
                "startSequenceNumber": "9",
                "endSequenceNumber": "1",
            }
        },
    ],
    ids=["not JSON", "not an object", "no batch info", "batch info cut short", "both kinds", "range backwards"],
)
def test_given_a_message_that_is_not_an_invocation_record_when_read_then_it_is_malformed(body):
    with pytest.raises(MalformedMessageError):
        batch_info(message(body))


def test_given_poison_and_set_aside_messages_when_read_then_they_are_the_stages_own_models():
    data = base64.b64encode(b"{not json").decode()
    poison = poison_record(
        message(
            {
                "reason": "r",
                "data_base64": data,
                "shard_id": "s",
                "sequence_number": "7",
                "partition_key": "k",
                "event_source_arn": "arn",
                "approximate_arrival_timestamp": None,
            },
            "poison",
        )
    )
    assert poison.data == b"{not json"
    change = set_aside(
        message(
            {
                "reason": "r",
                "sequence_number": "1",
                "trade_id": "T",
                "version": 3,
                "new_value": "1",
                "new_hierarchy": None,
                "old_value": None,
                "old_hierarchy": None,
            }
        )
    )
    assert isinstance(change, SetAsideChange) and change.version == 3
    partial = set_aside(message({"reason": "r", "partial_id": "T#1", "deltas": {}, "message_count": 1}))
    assert isinstance(partial, SetAsidePartial)
    with pytest.raises(MalformedMessageError):
        set_aside(message({"reason": "r"}))


def test_given_records_read_back_when_decided_then_only_each_trades_newest_newer_than_the_state_goes_back():
    # Given versions of three trades read back (one twice, from a range and from the poison queue), and one bad record
    bad = StreamedRecord("poison", "shardId-0", "9", "bad", b"{")
    decoded = decode_all(
        [record("A", 1, 1), record("A", 3, 2), record("B", 2, 3), record("C", 0, 4), record("C", 0, 4, "poison"), bad]
    )
    # When the StateTable holds A v2, B v2 and no C
    resend = decoded.resend({"A": 2, "B": 2})
    # Then A v3 and C v0 go back (their state changes), B v2 does not (a duplicate), and the copy counted once
    assert [(m.TradeID, m.Version, r.source) for r, m in resend] == [("A", 3, "state"), ("C", 0, "state")]
    assert decoded.trades == {"A", "B", "C"}
    assert [(r.key, why_) for r, why_ in decoded.undecodable] == [(("shardId-0", "9"), decoded.undecodable[0][1])]
    assert "not valid JSON" in decoded.undecodable[0][1]


def test_given_copies_of_a_poison_record_when_grouped_then_they_are_one_record():
    a, b, c = (message({}, "poison", i) for i in ("1", "2", "3"))
    groups = copies([(a, record("A", 0, 5, "poison")), (b, record("A", 0, 5, "poison")), (c, record("A", 0, 6))])
    assert groups == {("shardId-0", "5"): [a, b], ("shardId-0", "6"): [c]}
    fates = Fates()
    fates.finish([a, b], UNDECODABLE)
    fates.finish([c], None)
    assert fates.left() == 1 and fates.left(UNDECODABLE) == 1 and fates.done == [c]
    assert fates.kept_messages() == [a, b]


def state(version: int, value: str, accepted: int, region: str = "AMER") -> dict:
    return {**trade_image(version, value, region=region), "AcceptedVersions": Decimal(accepted)}


def test_given_markers_behind_the_statetable_when_planned_then_each_lagging_trade_gets_its_gap():
    hierarchy = {"RiskType": "Delta", "Region": "AMER", "TradeDesk": "FXSpot"}
    markers = {
        "A": AppliedState(1, Contribution(Decimal(5), hierarchy), 2),  # behind v3
        "B": AppliedState(2, Contribution(Decimal(7), hierarchy), 3),  # up to date
        "D": AppliedState(0),  # behind, and keeps its version only
    }
    stored = {"A": state(3, "9", 4), "B": state(2, "7", 3), "C": state(0, "1", 1), "D": state(4, "2", 5)}
    assert behind({t: m.version for t, m in markers.items()}, {t: int(s["Version"]) for t, s in stored.items()}) == [
        "A",
        "C",
        "D",
    ]
    changes, failed = gaps(stored, markers)
    assert [(c.trade_id, c.old_version, c.new_version) for c in changes] == [("A", 1, 3), ("C", None, 0)]
    assert failed == {"D": STATELESS_MARKER}


def test_given_what_failed_when_a_message_is_decided_then_it_stays_with_the_first_reason():
    assert why(InvalidChangeError("too many digits")) == SET_ASIDE
    assert why(TransactionConflictError("conflict")) == FAILED
    assert reason({"B": SET_ASIDE}, ["A", "B"]) == SET_ASIDE and reason({}, ["A"]) is None


def test_given_edited_copies_when_read_then_each_replaces_its_record_and_a_bad_line_is_refused():
    fixed = (
        '{"TradeID": "T", "Value": 1.10, "Version": 2, "Timestamp": 1,'
        ' "Hierarchy": {"RiskType": "Delta", "Region": "EMEA", "TradeDesk": "FX"}}'
    )
    lines = [
        f'{{"shard_id": "s", "sequence_number": "1", "message": {fixed}}}',
        "",
        json.dumps({"shard_id": "s", "sequence_number": "2", "data_base64": base64.b64encode(b"raw").decode()}),
    ]
    edits = edited_records("\n".join(lines))
    assert edits[("s", "2")] == b"raw"
    assert b'"Value":1.10' in edits[("s", "1")]  # exact: never through a float
    with pytest.raises(ValueError, match="line 1"):
        edited_records('{"shard_id": "s"}')


def test_given_a_run_when_reported_then_the_last_line_says_what_came_back_what_stayed_and_why():
    report = RedriveReport()
    report.add("state", 1234)
    report.add("map", 3)
    report.fates.finish([message({}, "state", "1")], PAST_RETENTION)
    report.fates.finish([message({}, "poison", "2"), message({}, "poison", "3")], UNDECODABLE)
    report.fates.finish([message({}, "map", "4")], FAILED)
    report.exact = True
    assert report.last_line() == (
        "redrive: state 1,234, map 3, reduce 0, poison 0 brought back; "
        "3 left (past retention 1, undecodable 1, set aside 0); aggregates EXACT"
    )
    assert len(report.notes()) == 3
    report.exact = False
    assert report.last_line().endswith("aggregates DRIFT")
    # and on a stack with the combining level, its lanes are a stage of the line
    report.combining = True
    report.add("combine", 2)
    assert report.last_line().startswith("redrive: state 1,234, map 3, combine 2, reduce 0, poison 0 brought back; ")
