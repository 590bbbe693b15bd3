"""Asset library records for the route walk: a flyer every partner's tier sees (assets belong to no partner)."""

import io

from werkzeug.datastructures import FileStorage

from app.enablement import assets
from tests.world_parts.w10_catalog import png_bytes


def add(world):
    flyer = assets.create_asset(
        actor=world["users"]["admin"],
        title="World flyer",
        description="Spring offer.",
        asset_type="flyer",
        category_id=world["ids"]["category"],
        min_tier="bronze",
        upload=FileStorage(io.BytesIO(png_bytes(size=(40, 60))), filename="flyer.png"),
    )
    world["ids"].update(asset=flyer.id)
