"""Stable, short OpenAPI operation ids (`articles.list`, `staff.licences.amend`), derived in one place.

FastAPI's default id (`list_articles_v1_articles_get`) repeats the path and the method, and SDK
generators turn it into a function name nobody wants to type. Ours is `<resource>.<action>`:

- the resource is the path's fixed segments up to its last parameter (all of them when it has
  none), without `/v1`, hyphens as underscores: `/v1/staff/licences/{licence_id}/amendments` is
  `staff.licences`;
- the action is the route function's name less the words that name the resource or the audience
  (`staff`, `partner`): `amend_licence` there is `amend`, `list_articles` on `/v1/articles` is
  `list`;
- a name with nothing left is the path's last segment when it is fixed (`login` on
  `/v1/staff/login` is `staff.login`), else the method's usual verb (`get`, `list`, `create`...).

The ids are part of the contract (generated SDKs name their functions after them): renaming a
route function renames its id, and `tests/test_operation_ids.py` fails until the committed contract
follows. A route whose derived id reads badly says `operation_id=` itself.
"""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

OPERATION_ID = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
_AUDIENCE = {"staff", "partner"}
_METHOD_VERBS = {"GET": "list", "POST": "create", "PUT": "replace", "PATCH": "update", "DELETE": "delete"}


def _is_parameter(part: str) -> bool:
    return "{" in part


def _words(segment: str) -> set[str]:
    """A segment's words, singular and plural (`licence_requests`: licence, licences, request, requests)."""
    found: set[str] = set()
    for word in segment.split("_"):
        singular = word[:-3] + "y" if word.endswith("ies") else word.removesuffix("s")
        found |= {word, singular, singular + "s", singular[:-1] + "ies" if singular.endswith("y") else singular}
    return found


def _segment_name(part: str) -> str:
    return re.sub(r"[^a-z_]", "", part.removesuffix(".json").lstrip(".").replace("-", "_").replace(".", "_").lower())


def _action(name_words: list[str], resource: list[str]) -> list[str]:
    known = set(_AUDIENCE)
    for segment in resource:
        known |= _words(segment)
    return [word for word in name_words if word not in known]


def operation_id(route: APIRoute) -> str:
    parts = [part for part in route.path_format.strip("/").split("/") if part and part != "v1"]
    last_parameter = max((i for i, part in enumerate(parts) if _is_parameter(part)), default=len(parts))
    resource = [_segment_name(part) for part in parts[:last_parameter] if not _is_parameter(part)]
    name_words = route.name.split("_")
    action = _action(name_words, resource)
    ends_fixed = last_parameter == len(parts)
    if not action and ends_fixed and len(resource) > 1:
        action = [resource.pop()]
    if not action:
        method = next(iter(sorted(route.methods or {"GET"})))
        action = ["get" if method == "GET" and not ends_fixed else _METHOD_VERBS.get(method, method.lower())]
    return ".".join([*resource, "_".join(action)])
