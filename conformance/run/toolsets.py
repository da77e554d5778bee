"""The tools and the answer schema the hqts-2026.2 suites declare (API-011, API-012,
METER-009): a realistic agent shape (enums, integer ranges, string patterns, nested
objects, arrays, a nullable field), in the OpenAI function-tool shape; the client writes
them in each dialect's (:mod:`conformance.run.client.toolcalls`)."""

from __future__ import annotations

from typing import Any

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather and forecast for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 2, "maxLength": 40},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
            "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "lookup_order",
        "description": "Look an order up by its number.",
        "parameters": {
            "type": "object",
            "properties": {
                "order_id": {"type": "string", "pattern": "^ORD-[0-9]{6}$"},
                "include_items": {"type": "boolean"},
                "fields": {"type": "array", "items": {"type": "string",
                                                      "enum": ["status", "total", "eta"]},
                           "minItems": 1, "maxItems": 3},
            },
            "required": ["order_id"],
            "additionalProperties": False}}},
]
SCHEMAS: dict[str, dict[str, Any]] = {
    t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 60},
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        "contact": {"type": "object", "properties": {
            "email": {"type": "string", "pattern": "^[a-z]{3,8}@example\\.org$"},
            "phone": {"type": ["string", "null"]}},
            "required": ["email", "phone"], "additionalProperties": False},
        "verdict": {"enum": ["accept", "reject", "defer"]},
    },
    "required": ["title", "rating", "tags", "contact", "verdict"],
    "additionalProperties": False,
}
