"""The recorder: every request a client makes, captured where the SDK makes it, for the principal that client is
the principal of.

botocore emits ``before-parameter-build`` once per API call (not per retry), with the operation's model and the
caller's parameters, on the client's own event emitter: registering there ties the recording to that one client,
whatever thread uses it (the StateLambda writes from a thread pool, where a context variable would not follow)
and whatever other function's clients the process holds (the local runner runs every function in one process).
So each principal's requests are recorded through clients made for that principal only: ``Recorder.session``
wraps the session a function makes its clients with, and every client or resource it makes is instrumented.

Physical names are recorded as the template's logical ids (``Namer``), so that the recording holds for any stack;
a name the namer does not know is recorded as ``?<name>`` and the check refuses it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3

from permissions.recording import Request

# Parameters that name the resource a request acts on, by API parameter name.
RESOURCE_PARAMETERS = (
    "TableName",
    "StreamName",
    "StreamARN",
    "StreamArn",
    "QueueUrl",
    "TopicArn",
    "StackName",
    "KeyId",
    "FunctionName",
    "logGroupName",
)
# Parameters that IAM condition keys read, by SDK service: parameter -> condition key.
CONDITION_PARAMETERS: dict[str, dict[str, str]] = {
    "dynamodb": {
        "Select": "dynamodb:Select",
        "ReturnValues": "dynamodb:ReturnValues",
        "ReturnConsumedCapacity": "dynamodb:ReturnConsumedCapacity",
    },
}
TRANSACT_KINDS = ("Put", "Update", "Delete", "ConditionCheck", "Get")
# The calls that return a shard iterator (Kinesis, DynamoDB Streams), and where the recorder keeps, in botocore's
# request context, the stream that iterator reads.
ITERATOR_OPERATIONS = ("GetShardIterator", "GetRecords")
ITERATOR_STREAM = "recorded_iterator_stream"
BATCH_KINDS = {"PutRequest": "Put", "DeleteRequest": "Delete"}


class Namer:
    """Physical name or ARN -> the template's logical reference (``StateTable``, ``StateTable.StreamArn``)."""

    def __init__(self, references: Mapping[str, str]) -> None:
        self.references = dict(references)

    def __call__(self, value: str) -> str:
        return self.references.get(value, f"?{value}")

    @classmethod
    def of(
        cls,
        names: Mapping[str, str],
        arns: Mapping[str, str] = {},
        attributes: Mapping[str, Mapping[str, str]] = {},
        stack_name: str = "",
    ) -> Namer:
        """From a stack's names (a queue's being its URL), ARNs and other attributes, by logical id."""
        references = {name: logical for logical, name in names.items()}
        references.update({arn: f"{logical}.Arn" for logical, arn in arns.items()})
        for attribute, values in attributes.items():
            references.update({value: f"{logical}.{attribute}" for logical, value in values.items()})
        if stack_name:
            references[stack_name] = "AWS::StackName"
        return cls(references)


class Recorder:
    """Collects the requests of every client it instrumented, each under its principal."""

    def __init__(self, namer: Namer) -> None:
        self.namer = namer
        self.when: tuple[tuple[str, str], ...] = ()  # the recording stack's parameters of ``recording.WHEN``
        self._requests: set[Request] = set()
        self._lock = threading.Lock()
        # A shard iterator -> the stream it reads (its request's resources): GetRecords names only its iterator, and
        # IAM authorizes it on the stream the iterator was taken from.
        self._iterators: dict[str, tuple[tuple[str, str], ...]] = {}

    @property
    def requests(self) -> set[Request]:
        with self._lock:
            return set(self._requests)

    def extend(self, requests: Iterable[Request]) -> None:
        """Requests known otherwise (read from a client's code, or kept from an earlier recording)."""
        with self._lock:
            self._requests.update(requests)

    def instrument(self, client: Any, principal: str) -> Any:
        model = client.meta.service_model
        service, prefix = model.service_name, model.signing_name

        def record(params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            request = self.request(principal, service, prefix, model.name, params)
            with self._lock:
                self._requests.add(request)
            if model.name in ITERATOR_OPERATIONS:
                context[ITERATOR_STREAM] = request.resources

        def remember(parsed: Mapping[str, Any], context: Mapping[str, Any], **_: Any) -> None:
            iterator = parsed.get("ShardIterator") or parsed.get("NextShardIterator")
            if iterator and ITERATOR_STREAM in context:
                with self._lock:
                    self._iterators[iterator] = context[ITERATOR_STREAM]

        client.meta.events.register("before-parameter-build", record)
        client.meta.events.register("after-call", remember)
        return client

    def request(self, principal: str, service: str, prefix: str, operation: str, params: Mapping[str, Any]) -> Request:
        resources = {p: self.namer(str(params[p])) for p in RESOURCE_PARAMETERS if p in params}
        if "ShardIterator" in params:  # GetRecords: the stream its iterator reads
            with self._lock:
                resources.update(self._iterators.get(params["ShardIterator"], ()))
        conditions = {p: str(params[p]) for p in CONDITION_PARAMETERS.get(prefix, {}) if p in params}
        items = set(self._items(params))
        return Request(
            principal=principal,
            service=service,
            prefix=prefix,
            operation=operation,
            resources=tuple(sorted(resources.items())),
            parameters=tuple(sorted(conditions.items())),
            items=tuple(sorted(items)),
            when=self.when,
        )

    def _items(self, params: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        for item in params.get("TransactItems", []):
            for kind in TRANSACT_KINDS:
                if kind in item:
                    yield kind, self.namer(item[kind]["TableName"])
        for table, entries in (params.get("RequestItems") or {}).items():
            if isinstance(entries, list):  # BatchWriteItem: puts and deletes
                for entry in entries:
                    yield from ((BATCH_KINDS[k], self.namer(table)) for k in entry if k in BATCH_KINDS)
            else:  # BatchGetItem
                yield "Get", self.namer(table)

    def session(self, principal: str, inner: boto3.Session | None = None) -> RecordingSession:
        return RecordingSession(self, principal, inner or boto3.Session())


class RecordingSession:
    """A session whose every client and resource is recorded under ``principal``; everything else is the inner
    session's (its region, its event handlers, the clock of a fault-injecting session)."""

    def __init__(self, recorder: Recorder, principal: str, inner: boto3.Session) -> None:
        self._recorder = recorder
        self.principal = principal
        self._inner = inner

    def client(self, *args: Any, **kwargs: Any) -> Any:
        return self._recorder.instrument(self._inner.client(*args, **kwargs), self.principal)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        resource = self._inner.resource(*args, **kwargs)
        self._recorder.instrument(resource.meta.client, self.principal)
        return resource

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextmanager
def default_session(session: RecordingSession) -> Iterator[None]:
    """A foreign client's code (the workshop's generator) makes its clients from boto3's default session, at
    import: for the time of its run, that default session is the recording one."""
    saved = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = session  # type: ignore[assignment]
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = saved
