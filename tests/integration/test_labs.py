"""Each lab's check fails on the lab's starting code (labs/workbench/, as shipped) and passes on the
project's finished code: the checks can tell a participant when the change is right."""

import pytest

from labs.check import CHECKS


@pytest.mark.timeout(300)
@pytest.mark.parametrize("lab", sorted(set(CHECKS) - {0}))
def test_given_the_labs_starting_code_when_checked_then_it_does_not_pass(moto_endpoint, lab):
    result = CHECKS[lab](moto_endpoint, False)
    assert not result.passed, result.render()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("lab", sorted(CHECKS))
def test_given_the_finished_code_when_each_lab_is_checked_then_it_passes(moto_endpoint, lab):
    result = CHECKS[lab](moto_endpoint, True)
    assert result.passed, result.render()
