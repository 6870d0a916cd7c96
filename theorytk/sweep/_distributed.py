"""Starting a multi-process sweep: every process present, or a clear timeout naming who is not."""

from __future__ import annotations

import socket
import time
from typing import Any

import jax

from theorytk._validation import check_integer

_POLL = 0.1  # seconds between connection attempts of a process waiting for process 0


def initialize_distributed(
    coordinator_address: str,
    num_processes: int,
    process_id: int,
    *,
    timeout: float = 300.0,
    **kwargs: Any,
) -> None:
    """`jax.distributed.initialize`, after checking that every process has started.

    `jax.distributed.initialize` on process 0 waits for the others without saying which
    are missing, and then aborts the interpreter. Here the processes first meet at
    `host:port + 1` of `coordinator_address` (process 0 listens; the others connect and
    send their id); once all `num_processes` are there, JAX is initialised as usual. If
    some are missing after `timeout` seconds, process 0 raises a `TimeoutError` naming
    them, and a process that cannot reach process 0 raises one naming the address.

    Args:
        coordinator_address: "host:port" of process 0, as for `jax.distributed.initialize`.
        num_processes: the number of processes, an integer >= 1.
        process_id: this process's id, in [0, num_processes).
        timeout: seconds to wait for the other processes (> 0).
        **kwargs: passed on to `jax.distributed.initialize`.
    """
    check_integer("num_processes", num_processes)
    check_integer("process_id", process_id, least=0, most=num_processes - 1)
    if not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    host, sep, port = coordinator_address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"coordinator_address must be 'host:port', got {coordinator_address!r}")
    meeting = (host, int(port) + 1)
    if process_id == 0:
        _gather(meeting, num_processes, timeout)
    else:
        _report(meeting, process_id, timeout)
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        **kwargs,
    )


def _gather(meeting: tuple[str, int], num_processes: int, timeout: float) -> None:
    """On process 0: accept every other process's id, then tell each to go on."""
    deadline = time.monotonic() + timeout
    arrived: dict[int, socket.socket] = {}
    with socket.create_server(meeting) as server:
        server.settimeout(_POLL)
        while len(arrived) < num_processes - 1:
            if time.monotonic() > deadline:
                for peer in arrived.values():
                    peer.close()
                missing = sorted(set(range(1, num_processes)) - set(arrived))
                raise TimeoutError(
                    f"jax.distributed: process 0 waited {timeout:g} s for processes "
                    f"{missing} of {num_processes} (ids 0..{num_processes - 1}); start them "
                    f"with the same coordinator_address (they check in at "
                    f"{meeting[0]}:{meeting[1]})"
                )
            try:
                peer, _ = server.accept()
            except TimeoutError:
                continue
            peer.settimeout(max(deadline - time.monotonic(), _POLL))
            arrived[int(peer.recv(16).decode() or -1)] = peer
    for peer in arrived.values():
        with peer:
            peer.sendall(b"go")


def _report(meeting: tuple[str, int], process_id: int, timeout: float) -> None:
    """On process k > 0: check in with process 0 and wait until every process has."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(meeting, timeout=_POLL) as connection:
                connection.sendall(str(process_id).encode())
                connection.settimeout(max(deadline - time.monotonic(), _POLL))
                if connection.recv(2) == b"go":
                    return
        except OSError:  # process 0 not listening yet, or gone: retry until the deadline
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"jax.distributed: process {process_id} could not reach process 0 at "
                f"{meeting[0]}:{meeting[1]} within {timeout:g} s (or not all processes "
                "started); start process 0 with the same coordinator_address"
            )
        time.sleep(_POLL)
