"""The hot paths the benchmark drives, how to build each request, and the ids they need from the data set.

Each path names candidate endpoints (the first the app has wins) and builds its requests from the
app's own url_map, so a renamed URL keeps working and a missing endpoint is reported as missing.
"""

from dataclasses import dataclass, field
from urllib.parse import urlencode

import psycopg

HTMX = {"HX-Request": "true"}
MOVE_STAGES = ("contacted", "qualified", "proposal")  # a drag cycles open leads through these


@dataclass
class Target:
    """What wrk sends: rotating paths (and bodies), plus headers beyond the session's."""

    paths: list[str]
    method: str = "GET"
    bodies: list[str] = field(default_factory=list)
    headers: dict = field(default_factory=dict)
    moves: list[str] = field(default_factory=list)  # stage change: "lead id:version:stage" for move.lua


@dataclass
class HotPath:
    name: str
    role: str  # cp | admin | super (the session that drives it)
    endpoints: tuple[str, ...]
    build: object  # (ids, url, variant) -> Target; variant is "big" or "small" (the query-count twin)
    kind: str = "read"  # read → compared with the GET floor; write → with the POST floor
    ratio: float = 4.0


@dataclass
class Ids:
    big_cp: str
    small_cp: str
    category: str
    big_leads: list  # (id, version, stage) of the largest CP's open leads
    small_leads: list
    preview_leads: list  # (id, commission) of the largest CP's leads, for the fee preview
    small_preview_leads: list


def load_ids(dsn: str, big_email: str, small_email: str) -> Ids:
    with psycopg.connect(dsn) as conn:
        cp = {
            email: conn.execute(
                "SELECT cp.id FROM channel_partners cp JOIN users u ON u.id = cp.user_id WHERE u.email = %s", (email,)
            ).fetchone()[0]
            for email in (big_email, small_email)
        }
        category = conn.execute("SELECT id FROM categories ORDER BY sort_order LIMIT 1").fetchone()[0]

        def open_leads(cp_id, limit):
            return conn.execute(
                "SELECT id, version, kanban_stage FROM leads WHERE allocated_to = %s AND kanban_stage = ANY(%s) "
                "ORDER BY id LIMIT %s",
                (cp_id, list(MOVE_STAGES), limit),
            ).fetchall()

        def preview(cp_id):  # open leads with a commission and the global rule: the everyday case
            return conn.execute(
                "SELECT id, commission_amount FROM leads WHERE allocated_to = %s AND kanban_stage = 'proposal' "
                "AND commission_amount IS NOT NULL AND fee_override_type IS NULL ORDER BY id LIMIT 50",
                (cp_id,),
            ).fetchall()

        big, small = cp[big_email], cp[small_email]
        return Ids(
            str(big),
            str(small),
            str(category),
            open_leads(big, 400),
            open_leads(small, 40),
            preview(big),
            preview(small),
        )


def _get(*query_sets, htmx=False):
    def build(ids: Ids, url, variant: str) -> Target:
        cp = ids.big_cp if variant == "big" else ids.small_cp
        paths = [url(**{k: (cp if v == "{cp}" else ids.category if v == "{category}" else v) for k, v in q.items()})
                 for q in query_sets or ({},)]  # fmt: skip
        return Target(paths, headers=HTMX if htmx else {})

    return build


def _move(ids: Ids, url, variant: str) -> Target:
    leads = ids.big_leads if variant == "big" else ids.small_leads
    moves = [f"{lead_id}:{version}:{stage}" for lead_id, version, stage in leads]
    paths = {stage: url(stage=stage) for stage in MOVE_STAGES}
    return Target(list(paths.values()), method="POST", headers=HTMX, moves=moves)


def _preview(ids: Ids, url, variant: str) -> Target:
    paths = []
    for n, (lead_id, commission) in enumerate(ids.preview_leads if variant == "big" else ids.small_preview_leads):
        prefix = f"l{lead_id.hex[:12]}"
        typed = {f"{prefix}-commission_amount": f"{commission + n:.2f}", f"{prefix}-lead_value": f"{10000 + n}.00"}
        paths.append(url(lead_id=lead_id) + "?" + urlencode(typed))
    return Target(paths, headers=HTMX)


HOT_PATHS = (
    HotPath("CP kanban board", "cp", ("cp.leads_kanban",), _get()),
    HotPath("CP lead list", "cp", ("cp.leads_assigned",), _get({}, {"sort": "value", "dir": "desc"})),
    HotPath("stage change (drag)", "cp", ("cp.leads_kanban_move",), _move, kind="write", ratio=3.0),
    HotPath("fee preview", "cp", ("cp.lead_fee_preview",), _preview, ratio=3.0),
    HotPath("admin leads + filters", "admin", ("admin.leads",),
            _get({"stage": "won", "category": "{category}"}, {"cp": "{cp}", "sort": "value"},
                 {"allocation": "allocated", "stage": "proposal"})),
    HotPath("admin fees outstanding", "admin", ("admin.platform_fees",), _get({"state": "outstanding"})),
    HotPath("super income dashboard", "super", ("superadmin.dashboard",), _get()),
    HotPath("super analytics", "super", ("superadmin.analytics",), _get()),
    HotPath("notification badge", "cp", ("notifications.badge",), _get(htmx=True)),
)  # fmt: skip

CSV_EXPORTS = ("superadmin.reports_csv",)
PDF_EXPORTS = ("superadmin.reports_pdf",)
