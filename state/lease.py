"""Leases: at most one sync run writes to a state store at a time.

A lease is one row per name holding the holder, a random token and an expiry. Taking it is a
single conditional upsert (insert the row, or take it over only if it has expired), so two
contenders cannot both succeed on SQLite or PostgreSQL; whoever gets rowcount 1 holds it. If the
holder dies the lease simply expires after its ttl. Renew and release match on the token, so a
holder whose lease expired and was taken over cannot renew or release someone else's. A lease
whose holder was a process of this host that no longer exists (a killed sync) is taken over at
once rather than after its ttl.

Acquiring is strict: even the same holder name cannot take a lease that has not expired (two
processes may share a name by mistake). Renewing an expired lease that nobody took over succeeds,
since nobody else can have written meanwhile. Expiry follows the store's clock; waiting for a
lease uses real time.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from state.base import StoreBase
from state.models import leases
from state.records import Lease
from state.timeutil import iso

log = logging.getLogger(__name__)


class LeaseHeld(RuntimeError):
    """The lease is held by someone else (and did not come free within the wait, if any)."""

    def __init__(self, name: str, holder: str, expires_at: datetime, waited: float | None = None) -> None:
        self.name = name
        self.holder = holder
        self.expires_at = expires_at
        self.waited = waited
        message = f"lease {name!r} is held by {holder!r} until {iso(expires_at)}"
        if waited is not None:
            message += f" (gave up after waiting {waited:g} s)"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[LeaseHeld], tuple[str, str, datetime, float | None]]:
        # Rebuild from the fields, not the message: Prefect and multiprocessing pickle exceptions.
        return (type(self), (self.name, self.holder, self.expires_at, self.waited))


class LeaseLost(RuntimeError):
    """A renew found the lease taken over by another holder (or released)."""


def default_holder() -> str:
    """``host:pid``, naming this process in lease rows and LeaseHeld messages."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_gone(holder: str) -> bool:
    """Whether ``holder`` (``host:pid``) names a process of this host that no longer exists.

    A killed sync would otherwise block the next ones until its lease expires. Only a holder on
    this very host can be checked; any other holder is presumed alive until its ttl runs out.
    """
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


class LeaseMixin(StoreBase):
    """Acquire, renew and release named leases."""

    def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> Lease:
        """Take lease ``name`` for ``ttl`` if it is free or expired; otherwise raise :class:`LeaseHeld`."""
        if ttl <= timedelta(0):
            raise ValueError(f"ttl must be positive, not {ttl}")
        # A release between our failed upsert and the read of the holder: just try again.
        for _ in range(5):
            now = self.now()
            token = uuid.uuid4().hex
            insert = self._insert(leases).values(
                name=name, holder=holder, token=token, acquired_at=now, expires_at=now + ttl
            )
            new = insert.excluded
            take = insert.on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={
                    "holder": new.holder,
                    "token": new.token,
                    "acquired_at": new.acquired_at,
                    "expires_at": new.expires_at,
                },
                # Only an expired lease is taken over; the database checks this under its row lock.
                where=leases.c.expires_at <= new.acquired_at,
            )
            with self._write() as connection:
                if connection.execute(take).rowcount == 1:
                    return Lease(name, holder, token, now, now + ttl, ttl)
                current = connection.execute(
                    select(leases.c.holder, leases.c.token, leases.c.expires_at).where(leases.c.name == name)
                ).one_or_none()
                if current is not None and holder_is_gone(current.holder):
                    # Compare-and-swap on the dead holder's token: of several contenders one wins.
                    swap = (
                        update(leases)
                        .where(leases.c.name == name, leases.c.token == current.token)
                        .values(holder=holder, token=token, acquired_at=now, expires_at=now + ttl)
                    )
                    if connection.execute(swap).rowcount == 1:
                        log.warning("lease %r: its holder %s no longer runs on this host; taken over", name,
                                    current.holder)  # fmt: skip
                        return Lease(name, holder, token, now, now + ttl, ttl)
                    continue
            if current is not None:
                raise LeaseHeld(name, current.holder, current.expires_at)
        raise RuntimeError(f"lease {name!r} kept changing hands while acquiring it")

    def renew_lease(self, lease: Lease, ttl: timedelta | None = None) -> Lease:
        """Extend ``lease`` to now + ``ttl`` (default: its own ttl); :class:`LeaseLost` if taken over."""
        ttl = ttl or lease.ttl
        expires_at = self.now() + ttl
        statement = (
            update(leases)
            .where(leases.c.name == lease.name, leases.c.token == lease.token)
            .values(expires_at=expires_at)
        )
        with self._write() as connection:
            if connection.execute(statement).rowcount != 1:
                raise LeaseLost(f"lease {lease.name!r} is no longer held by {lease.holder!r}")
        return Lease(lease.name, lease.holder, lease.token, lease.acquired_at, expires_at, ttl)

    def release_lease(self, lease: Lease) -> bool:
        """Give ``lease`` up; False if it was no longer ours (expired and taken over)."""
        statement = delete(leases).where(leases.c.name == lease.name, leases.c.token == lease.token)
        with self._write() as connection:
            return connection.execute(statement).rowcount == 1

    def current_lease(self, name: str) -> Lease | None:
        """Who holds lease ``name`` now (None if free or expired); for status displays."""
        with self._read() as connection:
            row = connection.execute(select(leases).where(leases.c.name == name)).one_or_none()
        if row is None or row.expires_at <= self.now():
            return None
        ttl = row.expires_at - row.acquired_at
        return Lease(row.name, row.holder, row.token, row.acquired_at, row.expires_at, ttl)

    @contextmanager
    def lease(
        self,
        name: str,
        ttl: timedelta,
        *,
        holder: str | None = None,
        wait_seconds: float = 0.0,
        poll_seconds: float = 1.0,
    ) -> Iterator[Lease]:
        """Hold lease ``name`` for the block, released on exit (renew long blocks with :meth:`renew_lease`).

        If it is held, poll every ``poll_seconds`` for up to ``wait_seconds``, then raise
        :class:`LeaseHeld` naming the holder and when its lease expires.
        """
        holder = holder or default_holder()
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                held = self.acquire_lease(name, holder, ttl)
                break
            except LeaseHeld as busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    waited = wait_seconds if wait_seconds > 0 else None
                    raise LeaseHeld(name, busy.holder, busy.expires_at, waited) from None
                log.info("%s; waiting up to %.0f s more", busy, remaining)
                time.sleep(min(poll_seconds, remaining))
        try:
            yield held
        finally:
            if not self.release_lease(held):
                log.warning("lease %r had already expired and been taken over when %r released it", name, holder)
