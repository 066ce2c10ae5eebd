"""Case 9: after every other case ran with recognisable fake secrets, none of them appears in
any log line or in anything sent to a platform or a model, and no user saw a traceback.

This file runs last (its name sorts last); run alone, it checks an empty record."""

from __future__ import annotations

import json
from typing import Any

from tests.reliability.fake_secrets import SECRETS
from tests.reliability.ledger import Ledger


def test_no_secret_in_any_log_line_or_message_and_no_traceback_shown(
    every_log_line: list[str], sent: list[Any], ledger: Ledger
) -> None:
    messages = [json.dumps(item, default=str) for item in sent]
    places = every_log_line + messages
    with ledger.case("9. secrets in logs and messages", tried=1) as row:
        found = [
            (name, place[:80])
            for place in places
            for name, secret in SECRETS.items()
            if secret in place or secret.split(":")[-1] in place
        ]
        tracebacks = [message[:80] for message in messages if "Traceback (most recent" in message]
        row.leaks = len(found) + len(tracebacks)
        assert found == [] and tracebacks == []
