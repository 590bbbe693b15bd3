"""Categories through the API (SPEC 9.2): partners see the published ones, staff all; a category's field schema is
what POST /api/v1/leads validates, and a lead built from it is accepted."""

import uuid

from app.extensions import db
from app.models import CategoryField
from tests import factories
from tests.api_support import bearer, key_for, key_headers, token_for


def test_partners_see_published_categories_and_staff_see_all(client):
    partner = factories.make_partner()
    admin = factories.make_user("admin")
    shown = factories.make_category("Solar", sort_order=2)
    hidden = factories.make_category("Wind", is_active=False, sort_order=1)
    db.session.commit()
    cp, staff = bearer(token_for(partner.user)), bearer(token_for(admin))

    assert [c["id"] for c in client.get("/api/v1/categories", headers=cp).json["data"]] == [str(shown.id)]
    listed = client.get("/api/v1/categories", headers=staff).json["data"]
    assert {c["id"]: c["is_active"] for c in listed} == {str(shown.id): True, str(hidden.id): False}
    assert client.get(f"/api/v1/categories/{hidden.id}", headers=cp).status_code == 404
    assert client.get(f"/api/v1/categories/{hidden.id}", headers=staff).status_code == 200
    assert client.get(f"/api/v1/categories/{uuid.uuid4()}", headers=staff).status_code == 404

    first = client.get("/api/v1/categories?limit=1", headers=staff).json
    second = client.get(f"/api/v1/categories?limit=1&cursor={first['next_cursor']}", headers=staff).json
    assert {first["data"][0]["id"], second["data"][0]["id"]} == {str(shown.id), str(hidden.id)}
    assert second["next_cursor"] is None
    key = key_headers(key_for(partner.user, ["leads:read"]))
    assert client.get("/api/v1/categories", headers=key).status_code == 403  # needs catalog:read


def test_the_field_schema_is_what_lead_intake_validates(client):
    partner = factories.make_partner()
    category = factories.make_category("Solar", description="Panels.")
    db.session.add_all(
        [
            CategoryField(
                category_id=category.id,
                key="roof_m2",
                label="Roof area",
                field_type="number",
                required=True,
                sort_order=1,
            ),
            CategoryField(
                category_id=category.id,
                key="roof_type",
                label="Roof type",
                field_type="choice",
                choices=["Flat", "Pitched"],
                help_text="As seen from the street",
                sort_order=2,
            ),
        ]
    )
    db.session.commit()
    headers = bearer(token_for(partner.user))
    detail = client.get(f"/api/v1/categories/{category.id}", headers=headers).json
    assert detail["name"] == "Solar" and detail["slug"] and detail["description"] == "Panels."
    standard = {f["key"]: f for f in detail["standard_fields"]}
    assert standard["first_name"]["required"] is True and standard["contact_email"]["kind"] == "email"
    assert {"value": "25k_100k", "label": "25,000 – 100,000"} in standard["budget"]["choices"]
    assert detail["fields"] == [
        {
            "key": "roof_m2",
            "label": "Roof area",
            "kind": "number",
            "required": True,
            "choices": [],
            "max_length": 200,
            "help_text": "",
        },
        {
            "key": "roof_type",
            "label": "Roof type",
            "kind": "choice",
            "required": False,
            "choices": [{"value": "Flat", "label": "Flat"}, {"value": "Pitched", "label": "Pitched"}],
            "max_length": 200,
            "help_text": "As seen from the street",
        },
    ]

    lead = {"first_name": "Ada", "last_name": "L", "contact_email": "ada@example.org", "category_id": str(category.id)}
    missing = client.post("/api/v1/leads", json=lead, headers=headers)
    assert missing.status_code == 422  # roof_m2 is required, as the schema says
    wrong_choice = client.post(
        "/api/v1/leads", json={**lead, "custom_fields": {"roof_m2": 40, "roof_type": "Dome"}}, headers=headers
    )
    assert wrong_choice.status_code == 422
    made = client.post(
        "/api/v1/leads", json={**lead, "custom_fields": {"roof_m2": 40, "roof_type": "Flat"}}, headers=headers
    )
    assert made.status_code == 201 and made.json["custom_fields"] == {"roof_m2": "40", "roof_type": "Flat"}
