"""Data access for the producer: the Kinesis ``put_records`` calls that put risk messages on the stream, in chunks
of at most 500, re-sending the entries that come back failed. Which messages to send is ``producer.py``'s (pure)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING

from riskpipe.aws import kinesis_client
from riskpipe.config import GameSettings, ProducerSettings
from riskpipe.models import RiskMessage
from riskpipe.producer import trade_partition_key

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kinesis.type_defs import PutRecordsRequestEntryTypeDef

PUT_RECORDS_LIMIT = 500


@dataclass
class PublishReport:
    sent: int = 0
    calls: int = 0
    resent_entries: int = 0


class PublishError(RuntimeError):
    pass


@dataclass(eq=False)
class KinesisPublisher:
    """PutRecords in chunks of at most 500, re-sending the entries that come back failed."""

    stream_name: str
    client: KinesisClient
    _: KW_ONLY
    max_attempts: int = 8
    sleep: Callable[[float], None] = time.sleep
    partition_key: Callable[[RiskMessage], str] = trade_partition_key

    @classmethod
    def from_settings(cls, settings: ProducerSettings | GameSettings) -> KinesisPublisher:
        """The deployed function's publisher: its stream, its attempts, a client from the environment."""
        return cls(settings.stream_name, kinesis_client(), max_attempts=settings.put_max_attempts)

    def publish(
        self,
        messages: Sequence[RiskMessage],
        report: PublishReport | None = None,
        *,
        partition_key: Callable[[RiskMessage], str] | None = None,
    ) -> PublishReport:
        """Send the messages; ``partition_key`` overrides the publisher's own for this call."""
        key = partition_key or self.partition_key
        return self.put([(m.to_wire(), key(m)) for m in messages], report)

    def put(self, records: Sequence[tuple[bytes, str]], report: PublishReport | None = None) -> PublishReport:
        """Send records as they are: each its data and its partition key (a record put on the stream again)."""
        report = report or PublishReport()
        for start in range(0, len(records), PUT_RECORDS_LIMIT):
            chunk = records[start : start + PUT_RECORDS_LIMIT]
            self._put_chunk([{"Data": data, "PartitionKey": key} for data, key in chunk], report)
            report.sent += len(chunk)
        return report

    def _put_chunk(self, entries: list[PutRecordsRequestEntryTypeDef], report: PublishReport) -> None:
        pending = entries
        for attempt in range(self.max_attempts):
            response = self.client.put_records(StreamName=self.stream_name, Records=pending)
            report.calls += 1
            if not response.get("FailedRecordCount"):
                return
            # Results come back in request order; an entry with an ErrorCode was not written.
            pending = [e for e, r in zip(pending, response["Records"], strict=True) if "ErrorCode" in r]
            report.resent_entries += len(pending)
            self.sleep(min(2.0, 0.05 * 2**attempt))
        raise PublishError(f"{len(pending)} records still failed after {self.max_attempts} PutRecords attempts")
