"""The trace view's content: a case's money tree, layer by layer, from the tracer's traces
(one per payment, merged by account), with each account's order state.

The chart is an ECharts ``graph`` option built here (positions by layer, labels as plain
strings) so that the page's script only draws it, as on the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fanzha.auth.masking import mask_account
from fanzha.funds.orders import Order, OrderState
from fanzha.funds.trace import Trace
from fanzha.web.desk import fen_to_yuan
from fanzha.web.labels import label

X_STEP, Y_STEP = 250, 95
TEXT = "#cfd8e3"
COLOURS = {
    "held": "#2a9d8f",
    "pending": "#e9c46a",
    "failed": "#e76f51",
    "holdable": "#457b9d",
    "cash_out": "#d62828",
    "passed": "#5c6b80",
    "victim": "#8ecae6",
}


@dataclass
class Account:
    """One account the money reached, over every trace of the case."""

    account: str
    hop: int
    attributed_fen: int = 0
    holdable_fen: int = 0
    cash_out_fen: int = 0
    untraced_fen: int = 0
    innocent_fen: int = 0
    order: Order | None = None

    @property
    def mixed(self) -> bool:
        """The account also carried money that is not the victim's."""
        return self.innocent_fen > 0

    @property
    def innocent_pct(self) -> int:
        """Share of the money seen there that is someone else's, in per cent."""
        total = self.innocent_fen + self.attributed_fen
        return round(100 * self.innocent_fen / total) if total else 0


@dataclass
class Tree:
    """The merged money tree."""

    accounts: list[Account] = field(default_factory=list)
    edges: dict[tuple[str, str], int] = field(default_factory=dict)
    roots: dict[str, int] = field(default_factory=dict)  # payee → fen the victim paid

    def layers(self) -> list[tuple[int, list[Account]]]:
        """Accounts by hop, most money first in each layer."""
        hops = sorted({a.hop for a in self.accounts})
        return [(h, sorted((a for a in self.accounts if a.hop == h), key=_rank)) for h in hops]


def _rank(a: Account) -> tuple[int, int, str]:
    return (-a.attributed_fen, -a.holdable_fen, a.account)


def merge(traces: Sequence[Trace], orders: Iterable[Order]) -> Tree:
    """One tree from the traces of a case's payments (an account's figures summed, its
    hop the nearest), with the order holding (or last placed on) each account."""
    tree = Tree()
    found: dict[str, Account] = {}
    for t in traces:
        tree.roots[t.account] = tree.roots.get(t.account, 0) + t.traced_fen
        for n in t.nodes:
            a = found.setdefault(n.account, Account(n.account, n.hop))
            a.hop = min(a.hop, n.hop)
            a.attributed_fen += n.attributed_fen
            a.holdable_fen += n.holdable_fen
            a.cash_out_fen += n.cash_out_fen
            a.untraced_fen += n.untraced_fen
            a.innocent_fen = max(a.innocent_fen, n.innocent_fen)
        for e in t.edges:
            key = (e.source, e.target)
            tree.edges[key] = tree.edges.get(key, 0) + e.fen
    for o in orders:
        if o.account in found and _better(o, found[o.account].order):
            found[o.account].order = o
    tree.accounts = list(found.values())
    return tree


def _better(new: Order, old: Order | None) -> bool:
    """Show the order that holds money, else the latest."""
    if old is None:
        return True
    if new.state.holding != old.state.holding:
        return new.state.holding
    return new.created_at >= old.created_at


def status(a: Account) -> str:
    """The colour key of an account: its order's state, else cash-out / holdable / passed."""
    if a.order is not None:
        if a.order.state.holding:
            return "held"
        if a.order.state in (OrderState.SENT, OrderState.DRAFT):
            return "pending"
        if a.order.state is OrderState.FAILED:
            return "failed"
    if a.cash_out_fen:
        return "cash_out"
    return "holdable" if a.holdable_fen else "passed"


def rows(tree: Tree, lang: str) -> list[dict[str, Any]]:
    """The table under the chart: layer by layer."""
    out = []
    for hop, accounts in tree.layers():
        for a in accounts:
            out.append(
                {
                    "hop": hop,
                    "account": mask_account(a.account),
                    "attributed": fen_to_yuan(a.attributed_fen),
                    "holdable": fen_to_yuan(a.holdable_fen),
                    "cash_out": fen_to_yuan(a.cash_out_fen) if a.cash_out_fen else "",
                    "untraced": fen_to_yuan(a.untraced_fen) if a.untraced_fen else "",
                    "mixed": a.innocent_pct if a.mixed else None,
                    "order": "" if a.order is None else a.order.state.label(lang),
                    "status": status(a),
                }
            )
    return out


def chart(tree: Tree, lang: str) -> dict[str, Any]:
    """An ECharts graph: the victim on the left, each layer a column to the right."""
    nodes: list[dict[str, Any]] = [
        {
            "name": "victim",
            "x": 0,
            "y": 0,
            "symbolSize": 34,
            "itemStyle": {"color": COLOURS["victim"]},
            "label": {"position": "left", "formatter": label("victim", lang)},
        }
    ]
    index: dict[str, int] = {}
    for hop, accounts in tree.layers():
        top = -(len(accounts) - 1) * Y_STEP / 2
        for i, a in enumerate(accounts):
            index[a.account] = len(nodes)
            nodes.append(_node(a, (hop + 1) * X_STEP, top + i * Y_STEP, lang))
    for i, node in enumerate(nodes[1:], 1):
        node["name"] = f"n{i}"  # unique (masked accounts may look alike)
    links = [_link(0, index[payee], fen) for payee, fen in tree.roots.items() if payee in index]
    links += [
        _link(index[s], index[t], fen)
        for (s, t), fen in tree.edges.items()
        if s in index and t in index
    ]
    return {
        "animation": False,
        "tooltip": {"show": False},
        "textStyle": {"color": TEXT},
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "roam": True,
                "edgeSymbol": ["none", "arrow"],
                "edgeSymbolSize": 8,
                "label": {"show": True, "position": "bottom", "color": TEXT, "fontSize": 11},
                "edgeLabel": {"show": True, "color": TEXT, "fontSize": 10},
                "lineStyle": {"color": "#5c7a99", "curveness": 0.08, "opacity": 0.8},
                "data": nodes,
                "links": links,
            }
        ],
    }


def _node(a: Account, x: float, y: float, lang: str) -> dict[str, Any]:
    lines = [mask_account(a.account), f"¥{fen_to_yuan(a.attributed_fen)}"]
    if a.holdable_fen:
        lines.append(f"{label('holdable', lang)} ¥{fen_to_yuan(a.holdable_fen)}")
    if a.cash_out_fen:
        lines.append(f"{label('cash_out', lang)} ¥{fen_to_yuan(a.cash_out_fen)}")
    if a.order is not None:
        lines.append(a.order.state.label(lang))
    if a.mixed:
        lines.append(f"{label('mixed', lang)} {a.innocent_pct}%")
    style: dict[str, Any] = {"color": COLOURS[status(a)]}
    if a.mixed:  # innocent money there too: freezing it hurts others (a dashed ring)
        style.update({"borderColor": "#ffd166", "borderWidth": 3, "borderType": "dashed"})
    return {
        "x": x,
        "y": y,
        "symbol": "diamond" if a.cash_out_fen else "circle",
        "symbolSize": _size(a.attributed_fen),
        "itemStyle": style,
        "label": {"formatter": "\n".join(lines)},
    }


def _size(fen: int) -> float:
    return float(min(56, 14 + (fen / 100) ** 0.5 / 6))


def _link(source: int, target: int, fen: int) -> dict[str, Any]:
    return {
        "source": source,
        "target": target,
        "label": {"formatter": f"¥{fen_to_yuan(fen)}"},
        "lineStyle": {"width": min(6.0, 1 + (fen / 100) ** 0.5 / 60)},
    }
