"""The ticket store: tickets, their history, links to remote issues and the outbox.

Every change is one transaction that also writes the history entry and the outbox rows for
the ticketing systems, so a change is never pushed without being stored or stored without
being pushed. Work on one fault is serialised twice: a lock per key inside the process,
and the unique ``open_key`` in the database across processes (a losing insert retries and
finds the winner's ticket).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from posfleet.alerts.bridge.database import READ_ONLY, open_engine
from posfleet.alerts.bridge.locks import KeyedLocks
from posfleet.alerts.bridge.model import (
    SYSTEM_ACTOR,
    AlertFacts,
    EventKind,
    HistoryEntry,
    RemoteLink,
    Ticket,
    TicketStatus,
)
from posfleet.alerts.bridge.schema import (
    SCHEMA_VERSION,
    UtcDateTime,
    events,
    metadata,
    outbox,
    remote_links,
    schema_version,
    tickets,
)

Outcome = Literal["opened", "reopened", "updated", "repeat", "resolved", "ignored"]
OutboxAction = Literal["create", "comment", "close", "reopen"]
Clock = Callable[[], datetime]

_INSERT_RETRIES = 5
# Summary and description often carry the current value ({{ $value }}): kept current
# silently, or every repeat notification would add a note.
_CHANGE_FIELDS = ("severity", "team", "action", "runbook_url")


# Statements of the webhook's hot path, built once: values go in as parameters, so
# SQLAlchemy reuses the compiled statement instead of rebuilding it for every alert.
# The fault's open ticket or, when it has none, its most recently closed one within the
# reopen window: one round trip, the open ticket first (at most one row has the open_key).
_CURRENT_TICKET = (
    select(tickets)
    .where(
        and_(
            tickets.c.key == bindparam("key"),
            or_(
                tickets.c.open_key.is_not(None),
                and_(
                    tickets.c.status == TicketStatus.CLOSED.value,
                    tickets.c.closed_at >= bindparam("closed_since", type_=UtcDateTime),
                ),
            ),
        )
    )
    .order_by(tickets.c.open_key.is_(None), tickets.c.closed_at.desc())
    .limit(1)
    .with_for_update()
)
_FACT_COLUMNS = (  # the keys of TicketStore._fact_values
    "identity", "priority", "severity", "team", "alertname", "component", "terminal", "store",
    "store_name", "store_address", "merchant", "region", "summary", "description", "action",
    "runbook_url", "generator_url", "labels", "annotations", "fired_at",
)  # fmt: skip
# A repeat (the ticket is open, not resolved, and nothing a person would be told about
# changed) is one UPDATE: no SELECT ... FOR UPDATE round trip before it. Repeats are most
# notifications: Alertmanager re-sends every firing alert of a group on each change.
_REPEAT = (
    update(tickets)
    .where(
        and_(
            tickets.c.open_key == bindparam("fault_key"),
            tickets.c.status != TicketStatus.RESOLVED.value,
            *(
                tickets.c[name].is_not_distinct_from(
                    bindparam(f"same_{name}", type_=tickets.c[name].type)
                )
                for name in ("severity", "team", "action", "runbook_url")
            ),
        )
    )
    .values(
        {
            **{name: bindparam(f"new_{name}", type_=tickets.c[name].type)
               for name in _FACT_COLUMNS},
            "notification_count": tickets.c.notification_count + 1,
        }
    )
    .returning(tickets.c.id)
)
_INSERT_TICKET = insert(tickets).returning(tickets.c.id)
_UPDATE_TICKET = update(tickets).where(tickets.c.id == bindparam("row_id"))
_INSERT_EVENT = insert(events)


class StoreUnavailable(Exception):
    """The database did not answer in time (locked, restarting, unreachable)."""


class TicketNotFound(LookupError):
    """No ticket with that id."""


class TicketConflict(Exception):
    """The change does not fit the ticket's state (e.g. closing a closed ticket)."""


class _LostRace(Exception):
    """Another transaction changed the ticket between our read and our write."""


@dataclass(frozen=True, slots=True)
class Policy:
    """How long a resolved ticket waits before closing, and how long a closed one reopens."""

    close_grace: timedelta = timedelta(minutes=5)
    reopen_window: timedelta = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """Criteria of a ticket listing; None means any."""

    status: TicketStatus | None = None
    team: str | None = None
    store: str | None = None
    merchant: str | None = None
    terminal: str | None = None
    component: str | None = None
    severity: str | None = None
    since: datetime | None = None
    """Tickets changed at or after this time."""
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Applied:
    """What a notification did to a fault's ticket."""

    ticket_id: int | None
    key: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One change waiting to be pushed to one ticketing system."""

    id: int
    ticket_id: int
    system: str
    action: OutboxAction
    text: str
    attempts: int


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:g} min"


class TicketStore:
    """Tickets in SQLite or PostgreSQL through SQLAlchemy Core; methods block (use a thread).

    ``systems_for(team)`` names the ticketing systems that get a team's tickets; every
    change of such a ticket adds one outbox row per system.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        policy: Policy | None = None,
        systems_for: Callable[[str | None], Sequence[str]] = lambda _team: (),
    ) -> None:
        self._engine = engine
        self._policy = policy or Policy()
        self._systems_for = systems_for
        self._locks = KeyedLocks()
        single_writer = engine.dialect.name == "sqlite"
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if single_writer else nullcontext()
        )

    @classmethod
    def open(
        cls,
        database: str,
        *,
        busy_timeout_seconds: float = 5.0,
        policy: Policy | None = None,
        systems_for: Callable[[str | None], Sequence[str]] = lambda _team: (),
    ) -> TicketStore:
        """Open ``database`` (a SQLite path or URL, or a PostgreSQL URL)."""
        return cls(
            open_engine(database, busy_timeout_seconds), policy=policy, systems_for=systems_for
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    def dispose(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        # SQLite has one writer at a time; queueing writers on a lock here is much faster
        # than letting them poll SQLite's busy handler, which sleeps up to 100 ms a try.
        with self._write_lock, self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn.execution_options(**{READ_ONLY: True})

    @contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError, PoolTimeoutError) as exc:
            raise StoreUnavailable(str(exc).splitlines()[0]) from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreUnavailable(str(exc).splitlines()[0]) from exc
            raise

    # --- schema -----------------------------------------------------------------------------

    def create_schema(self, now: datetime | None = None) -> None:
        """Create missing tables and record the schema version (refuse a newer database)."""
        with self._unavailable_as_error(), self._writing() as conn:
            metadata.create_all(conn)
            found = conn.execute(select(func.max(schema_version.c.version))).scalar()
            if found is None:
                conn.execute(
                    insert(schema_version).values(
                        version=SCHEMA_VERSION, applied_at=now or datetime.now(UTC)
                    )
                )
            elif found > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the ticket database has schema version {found}, newer than this "
                    f"posfleet's {SCHEMA_VERSION}: upgrade posfleet"
                )

    def ping(self) -> None:
        with self._unavailable_as_error(), self._reading() as conn:
            conn.execute(text("SELECT 1"))

    # --- notifications ----------------------------------------------------------------------

    def apply(self, facts: AlertFacts, now: datetime) -> Applied:
        """Apply one fault's state from a notification to its ticket (see module docs)."""
        with self._unavailable_as_error(), self._locks.hold(facts.key):
            for attempt in range(_INSERT_RETRIES):
                try:
                    with self._writing() as conn:
                        return self._apply(conn, facts, now)
                except (IntegrityError, _LostRace):
                    # Another process opened or reopened this fault's ticket first: read again.
                    if attempt == _INSERT_RETRIES - 1:
                        raise
        raise AssertionError("unreachable")

    def _apply(self, conn: Connection, facts: AlertFacts, now: datetime) -> Applied:
        if facts.firing:
            repeated = self._repeat(conn, facts)
            if repeated is not None:
                return repeated
        current = conn.execute(
            _CURRENT_TICKET,
            {"key": facts.key, "closed_since": now - self._policy.reopen_window},
        ).first()
        row = current if current is not None and current.open_key is not None else None
        if not facts.firing:
            if row is None or row.status == TicketStatus.RESOLVED:
                return Applied(row.id if row else None, facts.key, "ignored")
            return self._resolve(conn, row, facts, now)
        if row is not None:
            return self._refire(conn, row, facts, now)
        if current is not None:
            return self._reopen(conn, current, facts, now)
        return self._open(conn, facts, now)

    def _repeat(self, conn: Connection, facts: AlertFacts) -> Applied | None:
        """Count a repeat in one statement; None when it is not a plain repeat."""
        values = self._fact_values(facts)
        parameters: dict[str, Any] = {"fault_key": facts.key}
        parameters.update((f"new_{name}", values[name]) for name in _FACT_COLUMNS)
        parameters.update((f"same_{name}", values[name]) for name in _CHANGE_FIELDS)
        ticket_id = conn.execute(_REPEAT, parameters).scalar()
        return None if ticket_id is None else Applied(ticket_id, facts.key, "repeat")

    def _fact_values(self, facts: AlertFacts) -> dict[str, Any]:
        return {
            "identity": facts.identity,
            "priority": facts.priority,
            "severity": facts.severity,
            "team": facts.team,
            "alertname": facts.alertname,
            "component": facts.component,
            "terminal": facts.terminal,
            "store": facts.store,
            "store_name": facts.store_name,
            "store_address": facts.store_address,
            "merchant": facts.merchant,
            "region": facts.region,
            "summary": facts.summary,
            "description": facts.description,
            "action": facts.action,
            "runbook_url": facts.runbook_url,
            "generator_url": facts.generator_url,
            "labels": json.dumps(facts.labels, sort_keys=True),
            "annotations": json.dumps(facts.annotations, sort_keys=True),
            "fired_at": facts.starts_at,
        }

    def _open(self, conn: Connection, facts: AlertFacts, now: datetime) -> Applied:
        ticket_id = conn.execute(
            _INSERT_TICKET,
            {
                "key": facts.key,
                "open_key": facts.key,
                "status": TicketStatus.OPEN.value,
                "opened_at": now,
                "updated_at": now,
                "reopen_count": 0,
                "notification_count": 1,
                **self._fact_values(facts),
            },
        ).scalar_one()
        text_ = f"Opened: {facts.summary} (fault since {_stamp(facts.starts_at)})."
        self._record(conn, ticket_id, facts.team, now, EventKind.OPENED, SYSTEM_ACTOR, text_)
        self._enqueue(conn, ticket_id, facts.team, now, "create", text_)
        return Applied(ticket_id, facts.key, "opened")

    def _reopen(self, conn: Connection, row: Row[Any], facts: AlertFacts, now: datetime) -> Applied:
        result = conn.execute(
            update(tickets)
            .where(and_(tickets.c.id == row.id, tickets.c.open_key.is_(None)))
            .values(
                open_key=facts.key,
                status=TicketStatus.OPEN,
                updated_at=now,
                resolved_at=None,
                close_after=None,
                closed_at=None,
                acknowledged_by=None,
                reopen_count=row.reopen_count + 1,
                notification_count=row.notification_count + 1,
                **self._fact_values(facts),
            )
        )
        if result.rowcount != 1:
            raise _LostRace
        text_ = (
            f"Reopened: the fault fired again at {_stamp(facts.starts_at)}, "
            f"{_minutes(now - row.closed_at)} after the ticket closed."
        )
        self._record(conn, row.id, facts.team, now, EventKind.REOPENED, SYSTEM_ACTOR, text_)
        self._enqueue(conn, row.id, facts.team, now, "reopen", text_)
        return Applied(row.id, facts.key, "reopened")

    def _refire(self, conn: Connection, row: Row[Any], facts: AlertFacts, now: datetime) -> Applied:
        values = self._fact_values(facts)
        changes = [
            f"{name}: {getattr(row, name) or '-'} -> {values[name] or '-'}"
            for name in _CHANGE_FIELDS
            if getattr(row, name) != values[name]
        ]
        values["notification_count"] = row.notification_count + 1
        flapped = row.status == TicketStatus.RESOLVED
        if flapped:
            values.update(
                status=(
                    TicketStatus.ACKNOWLEDGED if row.acknowledged_by else TicketStatus.OPEN
                ).value,
                resolved_at=None,
                close_after=None,
            )
        if flapped or changes:
            values["updated_at"] = now
        conn.execute(_UPDATE_TICKET, {"row_id": row.id, **values})
        if not (flapped or changes):
            return Applied(row.id, facts.key, "repeat")
        notes = []
        if flapped:
            notes.append(
                f"The fault fired again at {_stamp(facts.starts_at)}, within the grace "
                "period: the ticket stays open."
            )
        if changes:
            notes.append("Alert changed: " + "; ".join(changes) + ".")
        text_ = " ".join(notes)
        self._record(conn, row.id, facts.team, now, EventKind.UPDATED, SYSTEM_ACTOR, text_)
        self._enqueue(conn, row.id, facts.team, now, "comment", text_)
        return Applied(row.id, facts.key, "updated")

    def _resolve(
        self, conn: Connection, row: Row[Any], facts: AlertFacts, now: datetime
    ) -> Applied:
        close_after = now + self._policy.close_grace
        cleared = facts.ends_at or now
        conn.execute(
            update(tickets)
            .where(tickets.c.id == row.id)
            .values(
                status=TicketStatus.RESOLVED,
                resolved_at=cleared,
                close_after=close_after,
                updated_at=now,
                notification_count=row.notification_count + 1,
            )
        )
        text_ = (
            f"Resolved: the fault cleared at {_stamp(cleared)}; the ticket closes at "
            f"{_stamp(close_after)} unless it fires again."
        )
        self._record(conn, row.id, row.team, now, EventKind.RESOLVED, SYSTEM_ACTOR, text_)
        self._enqueue(conn, row.id, row.team, now, "comment", text_)
        if close_after <= now:
            self._close_row(conn, row, now, SYSTEM_ACTOR, "Closed: the fault cleared.")
        return Applied(row.id, facts.key, "resolved")

    def close_due(self, now: datetime) -> list[int]:
        """Close resolved tickets whose grace period is over; return their ids."""
        with self._unavailable_as_error():
            with self._reading() as conn:
                due = conn.execute(
                    select(tickets.c.id, tickets.c.key).where(
                        and_(
                            tickets.c.status == TicketStatus.RESOLVED,
                            tickets.c.close_after <= now,
                        )
                    )
                ).all()
            closed = []
            grace = _minutes(self._policy.close_grace)
            for ticket_id, key in due:
                with self._locks.hold(key), self._writing() as conn:
                    row = conn.execute(
                        select(tickets).where(tickets.c.id == ticket_id).with_for_update()
                    ).one()
                    if row.status != TicketStatus.RESOLVED or row.close_after > now:
                        continue  # fired again meanwhile
                    note = f"Closed: the fault stayed clear for the grace period ({grace})."
                    self._close_row(conn, row, now, SYSTEM_ACTOR, note)
                    closed.append(ticket_id)
            return closed

    def _close_row(
        self, conn: Connection, row: Row[Any], now: datetime, actor: str, note: str
    ) -> None:
        conn.execute(
            update(tickets)
            .where(tickets.c.id == row.id)
            .values(
                status=TicketStatus.CLOSED,
                open_key=None,
                closed_at=now,
                close_after=None,
                updated_at=now,
            )
        )
        self._record(conn, row.id, row.team, now, EventKind.CLOSED, actor, note)
        self._enqueue(conn, row.id, row.team, now, "close", note)

    # --- people's changes -------------------------------------------------------------------

    def _change(
        self, ticket_id: int, now: datetime, change: Callable[[Connection, Row[Any]], None]
    ) -> Ticket:
        with self._unavailable_as_error():
            with self._writing() as conn:
                row = conn.execute(
                    select(tickets).where(tickets.c.id == ticket_id).with_for_update()
                ).first()
                if row is None:
                    raise TicketNotFound(ticket_id)
                change(conn, row)
            return self.get(ticket_id)

    @staticmethod
    def _require_not_closed(row: Row[Any], what: str) -> None:
        if row.status == TicketStatus.CLOSED:
            raise TicketConflict(f"ticket {row.id} is closed; reopen it before you {what} it")

    def acknowledge(self, ticket_id: int, actor: str, now: datetime) -> Ticket:
        def change(conn: Connection, row: Row[Any]) -> None:
            self._require_not_closed(row, "acknowledge")
            status = TicketStatus.ACKNOWLEDGED if row.status == TicketStatus.OPEN else row.status
            conn.execute(
                update(tickets)
                .where(tickets.c.id == row.id)
                .values(status=status, acknowledged_by=actor, updated_at=now)
            )
            note = f"Acknowledged by {actor}."
            self._record(conn, row.id, row.team, now, EventKind.ACKNOWLEDGED, actor, note)
            self._enqueue(conn, row.id, row.team, now, "comment", note)

        return self._change(ticket_id, now, change)

    def assign(self, ticket_id: int, assignee: str, actor: str, now: datetime) -> Ticket:
        def change(conn: Connection, row: Row[Any]) -> None:
            self._require_not_closed(row, "assign")
            conn.execute(
                update(tickets)
                .where(tickets.c.id == row.id)
                .values(assignee=assignee, updated_at=now)
            )
            note = f"Assigned to {assignee} by {actor}."
            self._record(conn, row.id, row.team, now, EventKind.ASSIGNED, actor, note)
            self._enqueue(conn, row.id, row.team, now, "comment", note)

        return self._change(ticket_id, now, change)

    def comment(self, ticket_id: int, note: str, actor: str, now: datetime) -> Ticket:
        def change(conn: Connection, row: Row[Any]) -> None:
            conn.execute(update(tickets).where(tickets.c.id == row.id).values(updated_at=now))
            self._record(conn, row.id, row.team, now, EventKind.COMMENT, actor, note)
            self._enqueue(conn, row.id, row.team, now, "comment", f"{actor}: {note}")

        return self._change(ticket_id, now, change)

    def close(self, ticket_id: int, reason: str, actor: str, now: datetime) -> Ticket:
        def change(conn: Connection, row: Row[Any]) -> None:
            if row.status == TicketStatus.CLOSED:
                raise TicketConflict(f"ticket {row.id} is already closed")
            self._close_row(conn, row, now, actor, f"Closed by {actor}: {reason}")

        return self._change(ticket_id, now, change)

    def _record(
        self,
        conn: Connection,
        ticket_id: int,
        _team: str | None,
        now: datetime,
        kind: EventKind,
        actor: str,
        note: str,
    ) -> None:
        conn.execute(
            _INSERT_EVENT,
            {"ticket_id": ticket_id, "at": now, "kind": kind.value, "actor": actor, "text": note},
        )

    def _enqueue(
        self,
        conn: Connection,
        ticket_id: int,
        team: str | None,
        now: datetime,
        action: OutboxAction,
        note: str,
    ) -> None:
        rows = [
            {
                "ticket_id": ticket_id,
                "system": system,
                "action": action,
                "text": note,
                "state": "pending",
                "created_at": now,
                "next_attempt_at": now,
                "attempts": 0,
            }
            for system in self._systems_for(team)
        ]
        if rows:
            conn.execute(insert(outbox), rows)

    # --- reading ----------------------------------------------------------------------------

    def get(self, ticket_id: int) -> Ticket:
        """One ticket with its history and remote links."""
        with self._unavailable_as_error(), self._reading() as conn:
            row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
            if row is None:
                raise TicketNotFound(ticket_id)
            history = [
                HistoryEntry(at=e.at, kind=EventKind(e.kind), actor=e.actor, text=e.text)
                for e in conn.execute(
                    select(events).where(events.c.ticket_id == ticket_id).order_by(events.c.id)
                )
            ]
            links = self._links(conn, [ticket_id])
        return _ticket(row, links.get(ticket_id, []), history)

    def find_open(self, key: str) -> Ticket | None:
        """The open (not closed) ticket of a fault key, if any."""
        with self._unavailable_as_error(), self._reading() as conn:
            ticket_id = conn.execute(
                select(tickets.c.id).where(tickets.c.open_key == key)
            ).scalar()
        return None if ticket_id is None else self.get(ticket_id)

    def list_tickets(self, criteria: TicketFilter) -> list[Ticket]:
        """Tickets matching ``criteria``, most recently opened first."""
        query = select(tickets)
        for column in ("team", "store", "merchant", "terminal", "component", "severity"):
            wanted = getattr(criteria, column)
            if wanted is not None:
                query = query.where(tickets.c[column] == wanted)
        if criteria.status is not None:
            query = query.where(tickets.c.status == criteria.status)
        if criteria.since is not None:
            query = query.where(tickets.c.updated_at >= criteria.since)
        query = (
            query.order_by(tickets.c.opened_at.desc(), tickets.c.id.desc())
            .limit(criteria.limit)
            .offset(criteria.offset)
        )
        with self._unavailable_as_error(), self._reading() as conn:
            rows = conn.execute(query).all()
            links = self._links(conn, [row.id for row in rows])
        return [_ticket(row, links.get(row.id, []), None) for row in rows]

    def counts_by_status(self) -> dict[str, int]:
        with self._unavailable_as_error(), self._reading() as conn:
            rows = conn.execute(
                select(tickets.c.status, func.count()).group_by(tickets.c.status)
            ).all()
        return {str(status): int(count) for status, count in rows}

    def counts_by_status_and_team(self) -> dict[tuple[str, str], int]:
        """Tickets per (status, team); ``""`` stands for tickets whose alert had no team."""
        with self._unavailable_as_error(), self._reading() as conn:
            rows = conn.execute(
                select(tickets.c.status, tickets.c.team, func.count()).group_by(
                    tickets.c.status, tickets.c.team
                )
            ).all()
        return {(str(status), team or ""): int(count) for status, team, count in rows}

    @staticmethod
    def _links(conn: Connection, ticket_ids: Sequence[int]) -> dict[int, list[RemoteLink]]:
        if not ticket_ids:
            return {}
        found: dict[int, list[RemoteLink]] = {}
        query = (
            select(remote_links)
            .where(remote_links.c.ticket_id.in_(ticket_ids))
            .order_by(remote_links.c.system)
        )
        for link in conn.execute(query):
            found.setdefault(link.ticket_id, []).append(
                RemoteLink(system=link.system, remote_id=link.remote_id, url=link.url)
            )
        return found

    # --- outbox -----------------------------------------------------------------------------

    def due_outbox(self, now: datetime, limit: int = 100) -> list[OutboxItem]:
        """Pending items due now, at most one per ticket and system (the oldest: a comment
        never overtakes the create of its issue)."""
        with self._unavailable_as_error(), self._reading() as conn:
            rows = conn.execute(
                select(outbox).where(outbox.c.state == "pending").order_by(outbox.c.id).limit(2000)
            ).all()
        seen: set[tuple[int, str]] = set()
        due = []
        for row in rows:
            lane = (row.ticket_id, row.system)
            if lane in seen:
                continue
            seen.add(lane)
            if row.next_attempt_at <= now:
                due.append(
                    OutboxItem(
                        id=row.id,
                        ticket_id=row.ticket_id,
                        system=row.system,
                        action=row.action,
                        text=row.text,
                        attempts=row.attempts,
                    )
                )
                if len(due) >= limit:
                    break
        return due

    def outbox_done(self, item_id: int, now: datetime) -> None:
        self._outbox_update(item_id, state="done", done_at=now, last_error=None)

    def outbox_retry(self, item: OutboxItem, error: str, next_attempt_at: datetime) -> None:
        self._outbox_update(
            item.id, attempts=item.attempts + 1, last_error=error, next_attempt_at=next_attempt_at
        )

    def outbox_dead(self, item: OutboxItem, error: str, now: datetime) -> None:
        self._outbox_update(
            item.id, state="dead", attempts=item.attempts + 1, last_error=error, done_at=now
        )

    def _outbox_update(self, item_id: int, **values: Any) -> None:
        with self._unavailable_as_error(), self._writing() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(**values))

    def outbox_depth(self) -> dict[str, int]:
        """Pending items per system."""
        with self._unavailable_as_error(), self._reading() as conn:
            rows = conn.execute(
                select(outbox.c.system, func.count())
                .where(outbox.c.state == "pending")
                .group_by(outbox.c.system)
            ).all()
        return {str(system): int(count) for system, count in rows}

    def link(self, ticket_id: int, system: str) -> RemoteLink | None:
        with self._unavailable_as_error(), self._reading() as conn:
            row = conn.execute(
                select(remote_links).where(
                    and_(remote_links.c.ticket_id == ticket_id, remote_links.c.system == system)
                )
            ).first()
        if row is None:
            return None
        return RemoteLink(system=system, remote_id=row.remote_id, url=row.url)

    def save_link(self, ticket_id: int, link: RemoteLink) -> None:
        with self._unavailable_as_error(), self._writing() as conn:
            exists = conn.execute(
                select(remote_links.c.remote_id).where(
                    and_(
                        remote_links.c.ticket_id == ticket_id,
                        remote_links.c.system == link.system,
                    )
                )
            ).first()
            if exists is None:
                conn.execute(
                    insert(remote_links).values(
                        ticket_id=ticket_id,
                        system=link.system,
                        remote_id=link.remote_id,
                        url=link.url,
                    )
                )


def _ticket(
    row: Row[Any], remote: list[RemoteLink], history: list[HistoryEntry] | None
) -> Ticket:
    return Ticket(
        id=row.id,
        key=row.key,
        tag=f"{row.key}-{row.id}",
        identity=row.identity,
        status=TicketStatus(row.status),
        priority=row.priority,
        severity=row.severity,
        team=row.team,
        alertname=row.alertname,
        component=row.component,
        terminal=row.terminal,
        store=row.store,
        store_name=row.store_name,
        store_address=row.store_address,
        merchant=row.merchant,
        region=row.region,
        summary=row.summary,
        description=row.description,
        action=row.action,
        runbook_url=row.runbook_url,
        generator_url=row.generator_url,
        labels=json.loads(row.labels),
        annotations=json.loads(row.annotations),
        assignee=row.assignee,
        acknowledged_by=row.acknowledged_by,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        close_after=row.close_after,
        closed_at=row.closed_at,
        reopen_count=row.reopen_count,
        notification_count=row.notification_count,
        remote=remote,
        history=history,
    )
