"""How a call went: what the client reports with every result and error.
Apart from results.py so that errors.py, which results.py imports, can
name it too."""

from __future__ import annotations

import dataclasses
import enum
from typing import Optional


class StopReason(enum.Enum):
    """Why the client stopped attempting a call (as the C++ client's)."""
    SUCCEEDED = "succeeded"
    NOT_RETRYABLE = "not_retryable"      # the failure is not transient
    NOT_IDEMPOTENT = "not_idempotent"    # a repeat could double or mislead
    MAX_ATTEMPTS = "max_attempts"
    DEADLINE = "deadline"                # no time left for another attempt
    RETRY_BUDGET = "retry_budget"        # too many failures on this Client
    PUSHBACK_REFUSAL = "pushback_refusal"  # the server said: do not retry


@dataclasses.dataclass(frozen=True)
class CallInfo:
    """How a call went: attempts made, the key it travelled under (None for
    a call sent without one), whether the answer was a stored one."""
    attempts: int
    idempotency_key: Optional[str]
    replayed: bool
    stop_reason: StopReason
