"""The OpenAPI document describes every resource as the code declares it: served at /api/v1/openapi.json, each
operation with a summary (its docstring's first line), a tag, a success answer and the problem-JSON default, each
path parameter declared, and every $ref pointing at a schema that exists."""

import json
import re

from tests.api_access_table import API_ROUTES

METHODS = ("get", "put", "post", "patch", "delete")


def test_every_operation_is_documented(client):
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.json["openapi"].startswith("3.")
    spec = answer.json
    tags = {tag["name"] for tag in spec["tags"]}
    operations = 0
    for path, item in spec["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            operations += 1
            where = f"{method.upper()} {path}"
            assert operation.get("summary", "").strip(), f"{where}: no summary (the view's docstring)"
            assert set(operation.get("tags", ())) <= tags and operation.get("tags"), f"{where}: no tag"
            codes = set(operation["responses"])
            assert any(code.startswith("2") or code == "302" for code in codes), f"{where}: no success answer"
            assert "default" in codes, f"{where}: errors (problem JSON) not documented"
            declared = {
                p["name"] for p in (*item.get("parameters", ()), *operation.get("parameters", ())) if p["in"] == "path"
            }
            assert declared == set(re.findall(r"{(\w+)}", path)), f"{where}: path parameters"
    assert operations == len([key for key in API_ROUTES if key.split(" ", 1)[1] != "api-docs.openapi_json"])

    schemas = spec["components"]["schemas"]
    for ref in re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', json.dumps(spec)):
        assert ref[1] in spec["components"][ref[0]], f"dangling $ref {ref}"
    error = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/problem+json"]["schema"]
    assert {"status", "title"} <= set(schemas[error["$ref"].rsplit("/", 1)[1]]["required"])


def test_money_is_documented_as_the_strings_it_is(client):
    """Amounts are answered as "1250.00": the schema must say string, or a client generated from it breaks."""
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    for name in ("CommissionOut", "FeeOut", "FeeSettlementOut", "FeeTotalsOut", "IncomeOut", "PeriodOut"):
        for field in ("platform_fee", "amount", "generated", "net_commission"):
            prop = schemas[name]["properties"].get(field)
            if prop is not None:
                assert prop["type"] == "string", f"{name}.{field}"
    assert schemas["FeeRuleOut"]["properties"]["value"]["type"] == "string"
