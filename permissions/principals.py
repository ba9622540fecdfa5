"""Who makes requests, and what judges each of them.

* **The functions**: every function of the template, by its logical id, judged against its execution role. They
  are read from the template: a function added there (a combining stage ``Combine...``) is a principal already;
  its requests must then be recorded (``permissions/record.py``: the local pipeline records every function it
  runs, by the session it gives that function).
* **The operators**: ``make reconcile --repair`` and every later operator command (``make redrive``), judged
  against the managed policy the stack outputs for operators (``OPERATOR_POLICY``), as attached to a role of the
  operators' own (``<stack>-operator``; any role it is attached to is judged the same). Adding a command is one
  line in ``record.OPERATOR_COMMANDS``.
* **The workshop's clients** (workshop mode only, with a checkout of the workshop): its generator, judged against
  its own ``GeneratorLambdaPolicy``, unchanged; its frontend, judged against a policy that allows what its page asks
  for (``dynamodb:Scan`` on the AggregateTable). See ``foreign.py``.
* **AWS on the stack's behalf** (``awsmade.py``): the event source mappings, Lambda, the scheduler, CloudWatch.
"""

from __future__ import annotations

from permissions.actions import Identity
from permissions.evaluate import Principal
from permissions.policies import StackPolicies
from permissions.stack import ConcreteStack

OPERATOR = "Operator"
OPERATOR_POLICY = "OperatorPolicy"  # the managed policy of template.yaml, output as OperatorPolicyArn


def function_identities(stack: ConcreteStack, policies: StackPolicies) -> dict[str, Identity]:
    """Every function of the stack, by logical id, as its execution role."""
    identities = {}
    for logical, props in stack.of_type("AWS::Lambda::Function").items():
        role = props["Role"]
        identities[logical] = Identity(
            logical, Principal(arn=role, account=stack.identity.account), tuple(policies.identity.get(role, ()))
        )
    return identities


def role_identities(stack: ConcreteStack, policies: StackPolicies) -> dict[str, Identity]:
    """Every role of the stack, by ARN (what AWS assumes on the stack's behalf)."""
    return {
        arn: Identity(arn, Principal(arn=arn, account=stack.identity.account), tuple(statements))
        for arn, statements in policies.identity.items()
    }


def operator_identity(stack: ConcreteStack, policies: StackPolicies) -> Identity:
    if OPERATOR_POLICY not in policies.managed:
        raise KeyError(f"the template has no {OPERATOR_POLICY}: operators have no policy to be judged against")
    arn = stack.identity.arn("iam", f"role/{stack.identity.name}-operator", region=False)
    return Identity(
        OPERATOR, Principal(arn=arn, account=stack.identity.account), tuple(policies.managed[OPERATOR_POLICY])
    )
