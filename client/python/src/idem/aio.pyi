# idem.aio as type checkers see it: idem.Client's calls, each a coroutine
# of the same result. At run time these methods come from the surface the
# two clients share (_surface.py), whose annotations name the sync
# results; this stub says "the same, awaited". tests/python/test_aio.py
# checks that every call here has exactly the sync call's parameters and
# result, so the two cannot drift apart.
import datetime
from typing import Optional, Sequence, Union

from idem._retry import RetryBudget
from idem.operations import Insert, Row, Update
from idem.options import TLS, RetryPolicy
from idem.results import (CopyResult, InsertResult, KeyInfo, Keyed,
                          OnConflict, TransactionResult, UpdateResult)


class Client:
    def __init__(self, target: str, *, token: Optional[str] = None,
                 tls: Union[TLS, bool, None] = None,
                 retry: RetryPolicy = ...,
                 budget: Optional[RetryBudget] = None,
                 auto_keys: bool = True) -> None: ...

    async def __aenter__(self) -> Client: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def close(self) -> None: ...

    async def insert(self, table: str, rows: Sequence[Row], *,
                     on_conflict: OnConflict = ...,
                     version_column: Optional[str] = None,
                     returning: Sequence[str] = (),
                     timeout: Optional[float] = None) -> InsertResult: ...

    async def update(self, table: str, key: Row, *, set: Optional[Row] = None,
                     increment: Optional[Row] = None,
                     version_column: Optional[str] = None,
                     timeout: Optional[float] = None) -> UpdateResult: ...

    async def copy_file(self, source: str, destination: str, *,
                        timeout: Optional[float] = None) -> CopyResult: ...

    async def transaction(self, steps: Sequence[Insert | Update], *,
                          timeout: Optional[float] = None
                          ) -> TransactionResult: ...

    def exactly_once(self, key: Optional[str] = None, *,
                     retention: Optional[datetime.timedelta] = None
                     ) -> ExactlyOnce: ...

    async def get_key(self, key: str, *,
                      timeout: Optional[float] = None) -> KeyInfo: ...

    async def forget_key(self, key: str, *,
                         timeout: Optional[float] = None) -> bool: ...


class ExactlyOnce:
    key: str
    retention: Optional[datetime.timedelta]

    async def insert(self, table: str, rows: Sequence[Row], *,
                     on_conflict: OnConflict = ...,
                     version_column: Optional[str] = None,
                     returning: Sequence[str] = (),
                     timeout: Optional[float] = None
                     ) -> Keyed[InsertResult]: ...

    async def update(self, table: str, key: Row, *, set: Optional[Row] = None,
                     increment: Optional[Row] = None,
                     version_column: Optional[str] = None,
                     timeout: Optional[float] = None
                     ) -> Keyed[UpdateResult]: ...

    async def copy_file(self, source: str, destination: str, *,
                        timeout: Optional[float] = None
                        ) -> Keyed[CopyResult]: ...

    async def transaction(self, steps: Sequence[Insert | Update], *,
                          timeout: Optional[float] = None
                          ) -> Keyed[TransactionResult]: ...
