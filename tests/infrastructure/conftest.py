"""The infrastructure tests' app: the LoRaWAN endpoint on, with a token of the tests' own."""

from __future__ import annotations

import dataclasses

import pytest

from urbantwin.settings import Settings

#: The shared secret the tests' network servers send.
TOKEN = "lorawan-test-secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, lorawan_webhook_token=TOKEN)
