"""No network access of any kind without ``--allow-remote``.

Remote data, schema and dialect paths are refused when the package is opened
(:func:`datapkg.package_source.check_descriptor_paths`). What is left are the references that
frictionless fetches by itself while it validates a descriptor: a v1 ``profile`` that is a URL
(package or resource; ``fiscal-data-package`` is a URL in disguise) and a foreign key to another
package (``reference.package``). :func:`offline_descriptor` takes them out of the copy frictionless
sees and says so in a warning; :func:`no_network` refuses every internet socket and name lookup
while frictionless runs, for any reference not listed here.
"""

from __future__ import annotations

import contextlib
import copy
import socket
from collections.abc import Iterator
from typing import Any

from datapkg.report import Finding

REFUSED = "network access is off; pass --allow-remote to allow it"


def _remote_profile(value: Any) -> bool:
    return isinstance(value, str) and ("://" in value or value == "fiscal-data-package")


def offline_descriptor(descriptor: dict[str, Any], file: str) -> tuple[dict[str, Any], list[Finding]]:
    """A copy of ``descriptor`` without what frictionless would fetch, and a warning for each
    reference taken out (``file``: the descriptor's name in the findings)."""
    copied = copy.deepcopy(descriptor)
    notes: list[Finding] = []

    def note(where: str, value: Any, what: str) -> None:
        notes.append(Finding(check="remote-not-fetched", severity="warning", file=file, value=str(value),
                             message=f"{where} {value!r} is remote and was not fetched, so {what}; "
                                     "pass --allow-remote to fetch it"))

    if _remote_profile(copied.get("profile")):
        note("profile", copied.pop("profile"), "the package was checked against the standard Data Package profile only")
    resources = copied.get("resources")
    for resource in resources if isinstance(resources, list) else []:
        if not isinstance(resource, dict):
            continue
        name = resource.get("name")
        if _remote_profile(resource.get("profile")):
            note(f"resource '{name}' profile", resource.pop("profile"),
                 "the resource was checked against the standard Data Resource profile only")
        schema = resource.get("schema")
        keys = schema.get("foreignKeys") if isinstance(schema, dict) else None
        if not isinstance(keys, list):
            continue
        kept = []
        for key in keys:
            reference = key.get("reference") if isinstance(key, dict) else None
            package = reference.get("package") if isinstance(reference, dict) else None
            if isinstance(package, str) and "://" in package:
                note(f"resource '{name}' foreign key package", package, "that foreign key was not checked")
                continue
            kept.append(key)
        schema["foreignKeys"] = kept
    return copied, notes


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Refuse internet connections and name lookups (``OSError``) in this process while active."""
    saved = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex, socket.create_connection
    internet = (socket.AF_INET, socket.AF_INET6)

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(REFUSED)

    def connect(self: socket.socket, *args: Any) -> Any:
        if self.family in internet:
            raise OSError(REFUSED)
        return saved[1](self, *args)

    def connect_ex(self: socket.socket, *args: Any) -> Any:
        if self.family in internet:
            raise OSError(REFUSED)
        return saved[2](self, *args)

    socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex = refuse, connect, connect_ex
    socket.create_connection = refuse
    try:
        yield
    finally:
        socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex, socket.create_connection = saved
