"""The case engine: finds customers charged for sales the terminal showed as failed.

:class:`CaseEngine` is a ``Sink`` (collector and ingest outputs): every transaction event is
classified (cause group per acquirer, counted per terminal and operator) and goes through
the :class:`~posfleet.payments.index.CaseTracker`; what the tracker decides is written to
the :class:`~posfleet.payments.store.CaseStore` in a thread, and every new or closed case
gets its ticket through the :class:`~posfleet.payments.tickets.TicketChannel`.

Case life cycle: a sale that timed out or failed after its request left the terminal waits
for a confirmed reversal; at its deadline (or when the terminal gives up) it becomes an open
case with an urgent ticket. It closes when a reversal confirmation arrives, or when an
acquirer file shows it reversed, refunded or never settled (``posfleet reconcile``).

:meth:`CaseEngine.run` sweeps every ``sweep_interval_seconds``: deadlines, undelivered
tickets, open-case counts. Suspects still waiting at :meth:`close` are saved in the store
and taken back at :meth:`start`, so a restart loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from posfleet.payments.classification import Classifier
from posfleet.payments.config import PaymentsSettings
from posfleet.payments.findings import OperatorFindings
from posfleet.payments.index import (
    CaseTracker,
    OpenCase,
    ResultWithoutSuspect,
    attempt_of,
    is_reversal_result,
)
from posfleet.payments.metrics import PaymentsMetrics, PaymentStats
from posfleet.payments.model import Case, CaseKind, CaseStatus, CloseReason, SaleFacts
from posfleet.payments.store import TICKET_DUE_OPEN, TICKET_DUE_RESOLVE, CaseStore
from posfleet.payments.tickets import TicketChannel, TicketError
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from posfleet.telemetry.transaction import ReversalState

logger = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CaseEngine:
    """Classifies transactions, follows suspect sales and keeps cases (implements ``Sink``)."""

    def __init__(
        self,
        settings: PaymentsSettings,
        store: CaseStore,
        classifier: Classifier,
        *,
        tickets: TicketChannel | None = None,
        regions: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.store = store
        self.classifier = classifier
        self.tickets = tickets
        self._regions = dict(regions or {})
        self._clock = clock
        self.stats = PaymentStats()
        self.findings = OperatorFindings(settings.training)
        self.tracker = CaseTracker(
            grace_seconds=settings.reversal_grace_seconds,
            duplicate_window_seconds=settings.duplicate_window_seconds,
            max_entries=settings.index_max_entries,
            expiry_seconds=settings.index_expiry_seconds,
        )
        self.metrics = PaymentsMetrics(
            self.stats,
            self.tracker,
            classifier,
            self.findings,
            regions=self._regions,
            max_terminals=settings.terminal_metrics_max_terminals,
            now=clock,
        )
        """The prometheus_client collector to register next to the other self-metrics."""

    # --- Sink ----------------------------------------------------------------------------------

    async def publish(self, snapshot: StatusSnapshot) -> None:
        return None

    async def publish_transaction(self, event: TransactionEvent) -> None:
        for action in self.observe(event):
            if isinstance(action, OpenCase):
                await self._open(action)
            else:
                await self._result_without_suspect(action)

    async def close(self) -> None:
        await asyncio.to_thread(self.store.save_waiting, self.tracker.waiting())
        if self.tickets is not None:
            await self.tickets.close()
        await asyncio.to_thread(self.store.dispose)

    # --- the synchronous hot path (also what the benchmark measures) ---------------------------

    def observe(self, event: TransactionEvent) -> list[OpenCase | ResultWithoutSuspect]:
        """Classify and count one event, and track it; return what needs the store."""
        if not is_reversal_result(event):
            group = self.classifier.classify(event)
            region = self._regions.get(event.store_id, "")
            self.stats.count_attempt(
                event.terminal_id, event.store_id, event.merchant_id, region, group
            )
            self.findings.observe(event, group)
        return self.tracker.observe(event)

    # --- cases -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take back the suspects saved by the last :meth:`close`, and the open counts."""
        for suspect in await asyncio.to_thread(self.store.take_waiting):
            self.tracker.restore(suspect)
        await self._refresh_counts()

    async def _open(self, found: OpenCase) -> None:
        region = self._regions.get(found.sale.store_id, "")
        case = await asyncio.to_thread(self.store.open_case, found, region, self._clock())
        if case is None:
            return  # opened before: a redelivered event
        self.stats.cases_opened[case.kind.value] += 1
        sale = case.sale
        self.stats.open_cases[(sale.store_id, sale.merchant_id, region, case.kind.value)] += 1
        logger.warning(
            "case %s opened (%s): terminal %s, sale %s, %d %s",
            case.case_id,
            case.kind.value,
            sale.terminal_id,
            sale.transaction_id,
            sale.amount_minor,
            sale.currency,
        )
        await self._deliver(case, TICKET_DUE_OPEN)

    async def _result_without_suspect(self, action: ResultWithoutSuspect) -> None:
        event = action.event
        case_id = await asyncio.to_thread(
            self.store.open_case_for_result,
            event.terminal_id,
            event.transaction_id,
            event.rrn,
            event.stan,
        )
        if case_id is None:
            if event.reversal_state is ReversalState.FAILED:
                # A failed reversal of a sale this process never saw (sent before a
                # restart, or by another collector): still a customer possibly charged.
                found = OpenCase(
                    CaseKind.REVERSAL_FAILED,
                    SaleFacts.of(event),
                    (attempt_of(event),),
                    None,
                    "the terminal gave up reversing a sale posfleet did not see",
                )
                await self._open(found)
            else:
                self.stats.reversals_unmatched += 1
            return
        await asyncio.to_thread(self.store.add_attempt, case_id, attempt_of(event))
        if event.reversal_state is ReversalState.FAILED:
            return
        await self.close_case(
            case_id,
            CloseReason.REVERSAL_CONFIRMED,
            f"reversal {event.transaction_id} confirmed by the host",
            at=event.occurred_at,
        )

    async def close_case(
        self, case_id: str, reason: CloseReason, detail: str, *, at: datetime | None = None
    ) -> bool:
        """Close an open case and resolve its ticket; False when it was not open."""
        when = at or self._clock()
        closed = await asyncio.to_thread(self.store.close, case_id, reason, when, detail)
        if not closed:
            return False
        self.stats.cases_closed[reason.value] += 1
        case = await asyncio.to_thread(self.store.get, case_id)
        if case is not None:
            key = (case.sale.store_id, case.sale.merchant_id, case.region, case.kind.value)
            if self.stats.open_cases[key] > 0:
                self.stats.open_cases[key] -= 1
            logger.info("case %s closed: %s", case_id, reason.value)
            await self._deliver(case, TICKET_DUE_RESOLVE)
        return True

    # --- tickets ---------------------------------------------------------------------------------

    async def _deliver(self, case: Case, expected_state: str) -> None:
        if self.tickets is None:
            return
        try:
            await self.tickets.send(case, firing=case.status is CaseStatus.OPEN)
        except TicketError as exc:
            self.stats.ticket_failures += 1
            logger.warning("case %s: ticket not delivered, will retry: %s", case.case_id, exc)
            await asyncio.to_thread(self.store.ticket_failed, case.case_id, str(exc))
            return
        await asyncio.to_thread(self.store.ticket_delivered, case.case_id, expected_state)

    async def deliver_due_tickets(self) -> None:
        """Send the tickets that are due (new cases, closed cases, earlier failures)."""
        due = await asyncio.to_thread(self.store.due_tickets)
        for case in due:
            state = TICKET_DUE_OPEN if case.status is CaseStatus.OPEN else TICKET_DUE_RESOLVE
            await self._deliver(case, state)
        self.stats.tickets_due = len(await asyncio.to_thread(self.store.due_tickets))

    # --- sweeping --------------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Open the cases whose deadline passed, deliver due tickets, refresh counts."""
        now = self._clock()
        for found in self.tracker.due(now.timestamp()):
            await self._open(found)
        await self.deliver_due_tickets()
        await self._refresh_counts()
        self.findings.prune(now)

    async def _refresh_counts(self) -> None:
        # ``posfleet reconcile`` closes cases from another process: the store is the truth.
        self.stats.open_cases = await asyncio.to_thread(self.store.open_counts)

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every ``sweep_interval_seconds`` until ``stop`` is set."""
        await self.start()
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                logger.exception("payments: sweep failed; trying again next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.sweep_interval_seconds)
