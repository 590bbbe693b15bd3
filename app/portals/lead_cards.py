"""What the lead templates of every portal are given: the "ago" text, memoized kanban cards, a board's filters."""

from flask import url_for

from app.files import storage
from app.files.checks import accept_attribute
from app.leads import queries as lead_queries
from app.models.base import utcnow
from app.models.leads import STAGE_LABELS, STAGES
from app.portals.lead_forms import STAGE_CHOICES, prefix_for
from app.web import memoized_macro, url_for_id


def ago(moment, now=None) -> str:
    """'just now', '5 min ago', '3 h ago', '2 days ago', then the date."""
    seconds = max(((now or utcnow()) - moment).total_seconds(), 0)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    if days < 30:
        return f"{days} day{'s' if days > 1 else ''} ago"
    return moment.strftime("%d %b %Y")


def template_helpers() -> dict:
    """Registered as a context processor on each portal blueprint that shows leads (it runs once per render)."""
    now = utcnow()
    moves = {}  # the Move menu's targets, per portal, worked out once per render rather than once per card

    def kanban_card(card, portal: str, movable: bool = False) -> str:
        if movable and portal not in moves:
            moves[portal] = move_targets(portal)
        return card_html(card, portal, now, moves[portal] if movable else ())

    return {
        "lead_ago": lambda moment: ago(moment, now),
        "lead_prefix": prefix_for,
        "evidence_accept": accept_attribute(storage.ALL_GROUPS),
        "stage_choices": STAGE_CHOICES,
        "kanban_cursor": lead_queries.card_cursor,
        "board_args": board_args,
        "partner_label": lead_queries.partner_label,
        "card_html": kanban_card,
    }


def card_html(card, portal: str, now, moves: tuple = ()) -> str:
    """A kanban card's HTML (the kanban_card macro), memoized on everything it shows: the Card's columns (its
    version and updated_at change with any edit), the portal, its URL, the "ago" text and its Move menu's targets
    (none for a viewer). A board redrawn after a drag or a refresh renders only the cards that changed."""
    detail_url = url_for_id(f"{portal}.lead_detail", lead_id=card.id)
    return _kanban_card(card, portal, detail_url, ago(card.updated_at, now), moves)


def move_targets(portal: str) -> tuple:
    """(stage, label, URL) of each column of the board: where a card's Move menu posts, as a drop on the column does."""
    return tuple((stage, STAGE_LABELS[stage], url_for(f"{portal}.leads_kanban_move", stage=stage)) for stage in STAGES)


_kanban_card = memoized_macro("_macros/leads.html", "kanban_card", size=20_000)  # ~1 KB a card


def board_args(filters) -> dict:
    """The filters a kanban board keeps (partner, category, search) as query-string values."""
    if not filters:
        return {}
    return {key: value for key, value in filters.args().items() if key in ("cp", "category", "q")}
