"""The policy's rules that no API shows directly: whose readers include whose."""

from __future__ import annotations

import pytest

from urbantwin.access.policy import AccessPolicy, DatasetRule
from urbantwin.settings import Settings


def rule(level: str, publisher: str | None = "city", groups: tuple[str, ...] = ()) -> DatasetRule:
    return DatasetRule(f"{level}-{publisher}", level, publisher, frozenset(groups), frozenset())


@pytest.mark.parametrize(
    ("wider", "narrower", "included"),
    [
        (rule("open"), rule("internal"), True),
        (rule("open"), None, True),
        (rule("registered"), rule("open"), False),
        (rule("registered"), rule("partner", "uni", ("p",)), True),
        (rule("registered"), None, False),
        (rule("partner", groups=("p", "q")), rule("partner", groups=("p",)), True),
        (rule("partner", groups=("p",)), rule("partner", groups=("p", "q")), False),
        (rule("partner", groups=("p",)), rule("internal"), True),
        (rule("partner", groups=("p",)), rule("internal", "lwb"), False),
        (rule("partner"), rule("registered"), False),
        (rule("internal"), rule("partner"), True),  # a partner dataset without groups: members only
        (rule("internal"), rule("partner", groups=("p",)), False),
        (rule("internal"), rule("internal", "lwb"), False),
        (rule("internal", None), rule("internal", None), True),  # administrators only, both
        (rule("internal"), rule("secret"), False),  # an unknown level fails closed
    ],
)
def test_readers_include(wider: DatasetRule, narrower: DatasetRule | None, included: bool) -> None:
    assert AccessPolicy(Settings()).readers_include(wider, narrower) is included
