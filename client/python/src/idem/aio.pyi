# idem.aio as type checkers see it. Its Client has idem.Client's methods,
# each returning an awaitable of the sync client's result; the surface the
# two share (_surface.py) annotates the sync results, and Python's types
# cannot say "the same, awaited". Any keeps correct asyncio code from
# failing a check (docs/python.md), at the price of not checking it.
from typing import Any

Client: Any
