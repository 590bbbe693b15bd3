"""/api/v1/categories: the catalogue a lead is submitted in, with each category's field schema (SPEC 9.2).

Partners see the published categories (as on /cp/categories), staff every one (as on /admin/categories). A
category's schema is the standard lead fields plus its own admin-defined fields: what POST /api/v1/leads
validates, top-level by `key` for the standard ones and under `custom_fields` by `key` for the category's own.
"""

import marshmallow as ma
from flask_smorest import Blueprint

from app.access import ANY_USER, roles
from app.api.fields import Timestamp
from app.api.pagination import PageArgs, keyset_page, page_schema
from app.api.principal import acting_user, scope
from app.catalog import operations as catalog
from app.leads.fields import CUSTOM_PREFIX, STANDARD_FIELDS, category_specs
from app.loaders import load_category
from app.models import Category

blp = Blueprint("api_catalog", __name__, url_prefix="/categories", description="Categories and their fields")

KINDS = ("text", "textarea", "number", "email", "phone", "choice")


class ChoiceOut(ma.Schema):
    value = ma.fields.String(required=True, metadata={"description": "What to send"})
    label = ma.fields.String(required=True, metadata={"description": "What to show"})


class FieldOut(ma.Schema):
    key = ma.fields.String(required=True)
    label = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"enum": list(KINDS)})
    required = ma.fields.Boolean(required=True)
    choices = ma.fields.List(ma.fields.Nested(ChoiceOut), required=True, metadata={"description": "For a choice"})
    max_length = ma.fields.Integer(required=True)
    help_text = ma.fields.String(required=True)


class CategoryOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    slug = ma.fields.String(required=True, metadata={"description": "Its public request form: /request/<slug>"})
    description = ma.fields.String(required=True)
    is_active = ma.fields.Boolean(required=True, metadata={"description": "Published (partners see only these)"})
    accepts_public_requests = ma.fields.Boolean(required=True)
    sort_order = ma.fields.Integer(required=True, metadata={"description": "Its place in the showcase"})
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)


class CategoryDetail(CategoryOut):
    standard_fields = ma.fields.List(
        ma.fields.Nested(FieldOut), required=True, metadata={"description": "Sent top-level in POST /leads"}
    )
    fields = ma.fields.List(
        ma.fields.Nested(FieldOut),
        required=True,
        metadata={"description": "The category's own fields, sent under custom_fields in POST /leads"},
    )


def _field(spec) -> dict:
    return {
        "key": spec.name.removeprefix(CUSTOM_PREFIX),
        "label": spec.label,
        "kind": spec.kind,
        "required": spec.required,
        "choices": [{"value": value, "label": label} for value, label in spec.choices],
        "max_length": spec.max_length,
        "help_text": spec.help_text,
    }


@blp.route("", methods=["GET"])
@roles(*ANY_USER)
@scope("catalog:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(CategoryOut, "CategoryPage"))
def list_categories(args):
    """Categories you may submit leads in, newest first (sort_order gives the showcase's order)"""
    return keyset_page(catalog.category_statement(active_only=not acting_user().is_staff), Category, args)


@blp.route("/<uuid:category_id>", methods=["GET"])
@roles(*ANY_USER)
@scope("catalog:read")
@blp.response(200, CategoryDetail)
def get_category(category_id):
    """One category with its field schema"""
    category = load_category(category_id)
    return {
        **{name: getattr(category, name) for name in CategoryOut._declared_fields},
        "standard_fields": [_field(spec) for spec in STANDARD_FIELDS],
        "fields": [_field(spec) for spec in category_specs(category)],
    }
