"""A fake name service for the network guard's tests (the outside world): names under `.example`
resolve to each address of the fixture's list in turn (the last one stays); every other name resolves
as usual.

    from fake_dns import rebinding_dns  # noqa: F401
"""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    answers: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not str(host).endswith(".example"):
            return real(host, port, *args, **kwargs)
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers
