"""Channel settings shared by the sync and asyncio clients: TLS
credentials (as the C++ client's channel.cc) and channel options."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Union

import grpc

from idem.options import TLS


def _pem(path: Optional[str]) -> Optional[bytes]:
    if path is None:
        return None
    data = Path(path).read_bytes()
    if not data:
        raise ValueError(f"TLS file {path} is empty")
    return data


def open_channel(target: str, tls: Union[TLS, bool, None],
                 insecure_channel: Callable[..., Any],
                 secure_channel: Callable[..., Any]) -> Any:
    """A channel made by grpc's (or grpc.aio's) channel functions.
    tls=True: TLS with the system's roots; None or False: plaintext."""
    settings = TLS() if tls is True else (tls or None)
    options = _options(settings)
    if settings is None:
        return insecure_channel(target, options=options)
    return secure_channel(target, _credentials(settings), options=options)


def _credentials(tls: TLS) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(tls.ca_file),
        private_key=_pem(tls.key_file),
        certificate_chain=_pem(tls.cert_file))


def _options(tls: Optional[TLS]) -> list[tuple[str, object]]:
    # The client does its own retries. A service config from DNS could turn
    # on gRPC's retryPolicy as well and multiply attempts, so none is taken.
    # While the server is down gRPC reconnects with a backoff growing to
    # 2 minutes; a retry waiting for the channel would wait that long past
    # a restart. 2 s at most, as the C++ client.
    #
    # gRPC's transparent retries are off too. They resend a call the server
    # "never saw" by gRPC's reckoning; but gRPC's server (1.51, under its
    # memory quota) can name in a GOAWAY a last stream below a call it goes
    # on to run, and a plain write then ran twice. Such a call now fails
    # UNAVAILABLE (it may have run), and keyed calls are retried here.
    options: list[tuple[str, object]] = [
        ("grpc.service_config_disable_resolution", 1),
        ("grpc.enable_retries", 0),
        ("grpc.max_reconnect_backoff_ms", 2000),
        # Answers of any size (gRPC stops at 4 MiB by default): an answer
        # describes a committed write, and refusing it would report a
        # failure for a write that happened, replays included.
        ("grpc.max_receive_message_length", -1)]
    if tls is not None and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return options
