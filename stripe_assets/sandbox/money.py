"""The balance: a balance transaction for every succeeded charge, refund and dispute, and
automatic payouts that settle, per currency, everything that became available since the
previous payout (each with its own `payout` balance transaction).

Funds become available two days after they move (midnight UTC); a transaction still pending
when the data window ends stays `pending` until the sandbox's `settle` mutation makes it
available (Stripe sends no event for that). Listing balance transactions with
`payout=po_...` returns the transactions an automatic payout settled, newest first: their
`net` adds up to the payout's amount, as Stripe's payout reconciliation documents. Manual
payouts settle nothing Stripe can list (it answers that filter with a 400).
"""

from __future__ import annotations

from .billing import fee_for, to_minor
from .store import Table
from .world import DAY, World

AVAILABLE_AFTER_DAYS = 2
DISPUTE_FEE_USD_CENTS = 1_500
OWNS = ("balance_transaction", "payout")
"""Object types this module fills (the generic generator leaves them alone)."""

KINDS = ("charge", "refund", "dispute", "payout")
"""What a balance transaction's `source` points at (its `source_kind` indexes this)."""


def _columns(w: World) -> Table:
    txns = w.table("balance_transaction")
    for name in (
        "amount",
        "fee",
        "net",
        "currency",
        "type",
        "reporting_category",
        "description",
        "status",
        "available_on",
        "fee_details",
    ):
        txns.add(name)
    txns.add("source_kind", -1, path="")
    txns.add("source", -1)
    txns.poly["source"] = ("source_kind", tuple(w.table(k) for k in KINDS))
    txns.add("payout_row", -1, path="")
    w.table("refund").add("balance_transaction", ref=txns)
    w.table("dispute").add("balance_transactions", inline=txns)
    w.table("dispute").inline_lists.add("balance_transactions")
    payouts = w.table("payout")
    for name in ("amount", "currency", "status", "automatic", "arrival_date", "description"):
        payouts.add(name)
    payouts.add("balance_transaction", ref=txns)
    payouts.add("method", "standard")
    return txns


def _available_on(created: int) -> int:
    return (created // DAY + AVAILABLE_AFTER_DAYS) * DAY


def _fee_details(fee: int, currency: str, description: str) -> list[dict[str, object]]:
    if not fee:
        return []
    return [
        {
            "amount": fee,
            "application": None,
            "currency": currency,
            "description": description,
            "type": "stripe_fee",
        }
    ]


class Balance:
    def __init__(self, w: World) -> None:
        self.w = w
        self.txns = _columns(w)
        self.kinds = {k: i for i, k in enumerate(KINDS)}

    def add(
        self,
        kind: str,
        source: int,
        created: int,
        amount: int,
        fee: int,
        currency: str,
        type_: str,
        category: str,
        description: str | None,
    ) -> int:
        available_on = _available_on(created) if kind != "payout" else created
        return self.txns.append(
            created,
            amount=amount,
            fee=fee,
            net=amount - fee,
            currency=currency,
            type=type_,
            reporting_category=category,
            description=description,
            status="available" if available_on < self.w.end else "pending",
            available_on=available_on,
            fee_details=_fee_details(fee, currency, "Stripe processing fees"),
            source_kind=self.kinds[kind],
            source=source,
        )

    def fee(self, amount: int, currency: str) -> int:
        return fee_for(amount, currency)

    def payout(self, t: int, amount: int, currency: str, automatic: bool, status: str) -> int:
        """A payout and its own `payout` balance transaction."""
        po = self.w.table("payout")
        row = po.append(
            t,
            amount=amount,
            currency=currency,
            status=status,
            automatic=automatic,
            arrival_date=(t // DAY + 2) * DAY,
            description="STRIPE PAYOUT",
        )
        po.cols["balance_transaction"][row] = self.add(
            "payout", row, t, -amount, 0, currency, "payout", "payout", "STRIPE PAYOUT"
        )
        self.w.rels["payout_transactions"].kids.extend(
            [] for _ in range(row + 1 - len(self.w.rels["payout_transactions"].kids))
        )
        return row

    def movements(self) -> None:
        """Charges, refunds and disputes move the balance."""
        w = self.w
        charges = w.of("charges")
        c = charges.cols
        for row in range(len(charges)):
            if c["status"][row] != "succeeded":
                continue
            amount, currency = c["amount"][row], c["currency"][row]
            c["balance_transaction"][row] = self.add(
                "charge",
                row,
                charges.created[row],
                amount,
                fee_for(amount, currency),
                currency,
                "charge",
                "charge",
                c["description"][row],
            )
        refunds = w.table("refund")
        for row in range(len(refunds)):
            r = refunds.cols
            refunds.cols["balance_transaction"][row] = self.add(
                "refund",
                row,
                refunds.created[row],
                -r["amount"][row],
                0,
                r["currency"][row],
                "refund",
                "refund",
                "REFUND FOR CHARGE",
            )
        disputes = w.table("dispute")
        for row in range(len(disputes)):
            d = disputes.cols
            currency = d["currency"][row]
            disputes.cols["balance_transactions"][row] = self.add(
                "dispute",
                row,
                disputes.created[row],
                -d["amount"][row],
                to_minor(DISPUTE_FEE_USD_CENTS, currency),
                currency,
                "adjustment",
                "dispute",
                "Chargeback withdrawal",
            )

    def payouts(self) -> None:
        """Automatic payouts (most days, paused now and then, so a big one follows) sweep
        each currency's available transactions; a few manual payouts settle nothing."""
        w = self.w
        txns = self.txns
        rel = w.rels["payout_transactions"]
        tc = txns.cols
        order = sorted(
            (r for r in range(len(txns)) if tc["type"][r] != "payout"),
            key=lambda r: (tc["available_on"][r], txns.created[r], r),
        )
        currencies = sorted({tc["currency"][r] for r in order})
        pointer = dict.fromkeys(currencies, 0)
        queues = {cur: [r for r in order if tc["currency"][r] == cur] for cur in currencies}
        hold_until = 0
        for day in w.days:
            rng = w.rng("payouts", day)
            if day >= hold_until and rng.random() < 0.05:
                hold_until = day + rng.randint(3, 6) * DAY
            specs = []
            if day >= hold_until and rng.random() < 0.8:
                t = rng.randint(day, min(day + DAY, w.end) - 1)
                specs += [(t, True, cur) for cur in currencies]
            if rng.random() < 0.12 * max(w.scale, 0.1):
                specs.append((rng.randint(day, min(day + DAY, w.end) - 1), False, "usd"))
            for t, automatic, currency in sorted(specs):
                settled: list[int] = []
                if automatic:
                    queue, i = queues[currency], pointer[currency]
                    while i < len(queue) and tc["available_on"][queue[i]] <= t:
                        settled.append(queue[i])
                        i += 1
                    pointer[currency] = i
                    amount = sum(tc["net"][r] for r in settled)
                    if amount <= 0:
                        pointer[currency] -= len(settled)  # carried to the next payout
                        continue
                else:
                    amount = to_minor(rng.choice((10_000, 25_000, 50_000, 100_000)), currency)
                if t > w.end - 2 * DAY:
                    status = "in_transit" if rng.random() < 0.7 else "pending"
                else:
                    status = "paid"
                row = self.payout(t, amount, currency, automatic, status)
                for txn in sorted(settled, key=lambda r: (txns.created[r], r), reverse=True):
                    tc["payout_row"][txn] = row
                    rel.add(row, txn)


def generate(w: World) -> Balance:
    balance = Balance(w)
    balance.movements()
    balance.payouts()
    w.owned.update(OWNS)
    return balance
