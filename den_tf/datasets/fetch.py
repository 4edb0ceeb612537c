"""Fetching a data set's files into its folder when they are not there, the one way every
reader does it (algorithm.md#benchmark: the data checks):

* `reachable`: the quick connection check that comes first, so that a machine without
  network stops at once with one line naming the hosts;
* `fetch_with_fallback`: the download routes tried in turn until one works; when every
  one fails, nothing half-made is left behind and one line names each route's failure.

Imports: den_tf.errors.
"""

from __future__ import annotations

import os
import shutil
import socket
from typing import Callable, Sequence, Tuple

from den_tf.errors import DataError


def reachable(host: str, port: int = 443, timeout: float = 5.0) -> bool:
    """Whether host:port accepts a connection within `timeout` seconds."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def fetch_with_fallback(data_dir: str, what: str,
                        routes: Sequence[Tuple[str, Callable[[str], None]]],
                        hosts: Sequence[Tuple[str, int]], used_by: str,
                        leftovers: Sequence[str], download: bool = True,
                        plural: bool = False) -> None:
    """Fetches a missing data set into `data_dir`, or raises one `DataError` line.

    Args:
      what: what is missing ("MNIST IDX files not found (expected ...)"), the start of
        every message after the folder.
      routes: (name, fetch) pairs tried in order; `fetch(data_dir)` writes the files into
        data_dir and raises on any failure.
      hosts: (host, port) the routes download from; when none accepts a connection
        nothing is tried. `used_by` names the routes in that message.
      leftovers: the routes' working folders inside data_dir, removed when all fail (and
        data_dir itself when this call created it).
      download: False refuses at once (the files must be there).
      plural: `what` names files ("fetching them failed") rather than a data set ("it").
    """
    if not download:
        raise DataError(f"{data_dir}: {what}")
    hosts = list(dict.fromkeys(hosts))
    if not any(reachable(host, port) for host, port in hosts):
        names = " and ".join(dict.fromkeys(host for host, _ in hosts))
        raise DataError(f"{data_dir}: {what}, and {names} (used by {used_by}) cannot be "
                        f"reached from this machine")
    created = not os.path.exists(data_dir)
    os.makedirs(data_dir, exist_ok=True)
    errors = []
    for route, fetch in routes:
        try:
            fetch(data_dir)
            return
        except Exception as e:  # any failure: try the next route, report all
            errors.append(f"{route}: {type(e).__name__}")
    for junk in leftovers:
        shutil.rmtree(os.path.join(data_dir, junk), ignore_errors=True)
    if created:
        shutil.rmtree(data_dir, ignore_errors=True)
    raise DataError(f"{data_dir}: {what}, and fetching {'them' if plural else 'it'} failed "
                    f"({'; '.join(errors)})")
