"""Generated data is deterministic by seed, scales with ``scale`` and has realistic links."""

from __future__ import annotations

from typing import Any

from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.sandbox.data import generate
from stripe_assets.sandbox.ids import IdCodec
from stripe_assets.tables import TABLES
from stripe_assets_tests.sandbox_fixtures import Client, small_config


def snapshot(cfg: SandboxConfig) -> dict[str, Any]:
    with running_sandbox(cfg) as sb:
        c = Client(sb.base_url, sb.api_key)
        out = {
            "counts": sb.counts(sb.config.start_ts, sb.config.end_ts),
            "charges": c.walk("/v1/charges"),
            "invoices": c.walk("/v1/invoices")[:20],
            "account": c.ok("/v1/account"),
        }
        c.close()
        return out


def test_same_seed_same_data_other_seed_differs() -> None:
    a = snapshot(small_config(seed=1))
    b = snapshot(small_config(seed=1))
    assert a == b
    c = snapshot(small_config(seed=2))
    assert c["counts"] != a["counts"]
    assert not {x["id"] for x in a["charges"]} & {x["id"] for x in c["charges"]}


def test_scale_multiplies_volume() -> None:
    base = generate(small_config(scale=1.0)).total_objects()
    big = generate(small_config(scale=5.0)).total_objects()
    assert 3.5 * base < big < 6.5 * base


def test_scale_one_is_a_modest_size() -> None:
    d = generate(SandboxConfig(seed=42, start="2024-04-01", end="2024-05-01"))
    top = sum(len(d.of(t.name)) for t in TABLES if not t.is_child and t.name in d.stores)
    assert 100 * 30 <= top <= 400 * 30
    payouts = d.rels["payout_transactions"]
    txns = [payouts.count(p) for p in range(len(d.of("payouts")))]
    assert min(txns) == 0 and max(txns) >= 200


def test_ids_roundtrip_and_reject_strangers() -> None:
    codec = IdCodec(42, "ch")
    ids = {codec.encode(i) for i in range(5000)}
    assert len(ids) == 5000
    for i in (0, 1, 4999, 10**6, 2**29):
        assert codec.decode(codec.encode(i)) == i
    assert codec.decode("ch_1NnlpSGPxmnHQRkJcYsK19E8") == -1
    assert IdCodec(43, "ch").decode(codec.encode(5)) == -1
    assert IdCodec(42, "in").decode(codec.encode(5)) == -1
    assert codec.encode(3).startswith("ch_1") and len(codec.encode(3)) == 27
    assert len(IdCodec(42, "cus").encode(3)) == len("cus_Oaxlz8kB0PJWGa")


def test_links_between_objects() -> None:
    with running_sandbox(small_config(seed=4)) as sb:
        c = Client(sb.base_url, sb.api_key)
        customers = {x["id"] for x in c.walk("/v1/customers")}
        invoices = c.walk("/v1/invoices")
        charges = {x["id"]: x for x in c.walk("/v1/charges")}
        subs = {x["id"]: x for x in c.walk("/v1/subscriptions", {"status": "all"})}
        assert {i["customer"] for i in invoices} <= customers
        assert {s["customer"] for s in subs.values()} <= customers
        linked = [i for i in invoices if i["charge"]]
        assert linked
        for inv in linked:
            assert charges[inv["charge"]]["invoice"] == inv["id"]
            assert charges[inv["charge"]]["amount"] == inv["amount_paid"] == inv["total"]
        with_sub = [i for i in invoices if i["subscription"]]
        assert with_sub
        for inv in with_sub:
            sub = subs[inv["subscription"]]
            assert sub["items"]["total_count"] == inv["lines"]["total_count"]
        for inv in invoices[:40]:
            lines = c.walk(f"/v1/invoices/{inv['id']}/lines")
            discounts = sum(d["amount"] for li in lines for d in li["discount_amounts"])
            assert sum(li["amount"] for li in lines) == inv["subtotal"]
            assert inv["subtotal"] - discounts == inv["total"]
        c.close()
