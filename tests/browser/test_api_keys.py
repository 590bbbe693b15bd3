"""What a browser shows of API keys: an owner creates one in /cp/integrations, reads the secret shown once (and
copies it), calls the API with it from the page's origin, then revokes it: the next call is refused."""

import sqlalchemy as sa

from app.extensions import db
from app.models import ApiKey
from tests import factories

ME = """async (key) => {
  const answer = await fetch("/api/v1/auth/me", {headers: {"X-API-Key": key}, credentials: "omit"});
  return {status: answer.status, body: await answer.json()};
}"""


def test_an_owner_creates_uses_and_revokes_a_key(new_page):
    partner = factories.make_partner(company="Northwind")
    db.session.commit()
    page = new_page(partner.user)
    page.goto("/cp/integrations")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_label("Name", exact=True).fill("CRM sync")
    page.get_by_label("leads:read").check()
    page.get_by_label("leads:write").check()
    assert page.get_by_label("leads:trusted").count() == 0  # staff grant that one
    page.get_by_role("button", name="Create key").click()

    secret_box = page.get_by_label("API key (send it as the X-API-Key header)")
    secret_box.wait_for()
    secret = secret_box.input_value()
    assert secret.startswith("lf_") and len(secret) > 40
    page.locator("#new-key").get_by_role("button", name="Copy").click()
    page.locator("#new-key").get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    answer = page.evaluate(ME, secret)
    assert answer["status"] == 200 and answer["body"]["api_key"] == "CRM sync"
    assert sorted(answer["body"]["scopes"]) == ["leads:read", "leads:write"]

    page.reload()  # shown once: the list keeps only the prefix
    assert secret not in page.content()
    key = db.session.scalars(sa.select(ApiKey)).one()
    row = page.locator(f"#api-key-{key.id}")
    assert f"{key.prefix}…" in row.inner_text()

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("link", name="Revoke").click()
    page.locator(f"#api-key-{key.id}").get_by_text("Revoked").wait_for()
    refused = page.evaluate(ME, secret)
    assert refused["status"] == 401
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is not None
