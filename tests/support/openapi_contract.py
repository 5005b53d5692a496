"""Every answer the tests see must be one the OpenAPI document declares.

:func:`checked_client` is the HTTP client every test uses against the app: after each
response it checks, against the app's own ``/api/openapi.json``, that

* the path and method are documented (a 405 must name in ``Allow`` exactly the methods
  the document gives the path; an unknown path must be a 404 problem);
* the status code is declared for the operation;
* the content type is one the status declares (none when it declares no content);
* a JSON body validates against the declared schema (JSON Schema 2020-12, formats
  checked).

A mismatch fails the request that saw it with :class:`ContractViolation`. The checker
never adapts to the app: when it complains, fix the app or its document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from fastapi.routing import iter_route_contexts
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from kernel.app import DOCS_URL, OPENAPI_URL
from tests.support.live_server import served_app

UNDOCUMENTED_PATHS = {OPENAPI_URL, DOCS_URL, DOCS_URL + "/oauth2-redirect", "/metrics"}
DOCUMENT_URI = "urn:ticketing:openapi"


class ContractViolation(AssertionError):
    """An answer the OpenAPI document does not declare."""


def _pointer(*parts: str) -> str:
    return "/".join(quote(part.replace("~", "~0").replace("/", "~1"), safe="") for part in parts)


def _media_type(value: str | None) -> str | None:
    return value.split(";")[0].strip().lower() if value else None


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


class OpenApiContract:
    """One OpenAPI document, ready to check answers against."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.registry = Registry().with_resource(
            DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        self.validators: dict[str, Draft202012Validator] = {}
        templates = []
        for template in document["paths"]:
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            templates.append((template.count("{"), template, re.compile(f"^{pattern}$")))
        # a literal segment wins over a parameter, as the app's routing declares them
        self.templates = [(template, regex) for _, template, regex in sorted(templates)]

    def template_of(self, path: str) -> str | None:
        return next((template for template, regex in self.templates if regex.match(path)), None)

    def _validator(self, pointer: str) -> Draft202012Validator:
        found = self.validators.get(pointer)
        if found is None:
            found = Draft202012Validator(
                {"$ref": f"{DOCUMENT_URI}#{pointer}"},
                registry=self.registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            self.validators[pointer] = found
        return found

    def violations(
        self, method: str, path: str, status: int, headers: Mapping[str, str], body: bytes | None
    ) -> list[str]:
        """What is wrong with this answer (empty when the document declares it).
        ``body`` is ``None`` when it was not read (a stream)."""
        method = method.lower()
        if path in UNDOCUMENTED_PATHS or method == "options":
            return []
        template = self.template_of(path)
        if template is None:
            if status == 404:
                return self._problem_violations(headers, body, "unknown path")
            return [f"{path} is not in the document"]
        operations = self.document["paths"][template]
        if method not in operations:
            if status != 405:
                return [f"{method.upper()} {template} is not in the document"]
            declared = sorted(m.upper() for m in operations if not m.startswith("x-"))
            allowed = sorted(m.strip() for m in headers.get("allow", "").split(",") if m.strip())
            found = self._problem_violations(headers, body, "405")
            if allowed != declared:
                found.append(f"405 Allow {allowed}, but the document declares {declared}")
            return found
        responses = operations[method].get("responses", {})
        key = next(
            (k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None
        )
        where = f"{method.upper()} {template} {status}"
        if key is None:
            return [f"{where}: status not declared (declared: {sorted(responses)})"]
        declared_content = responses[key].get("content") or {}
        media_type = _media_type(headers.get("content-type"))
        if not declared_content:
            if body:
                return [f"{where}: answered {media_type} but declares no content"]
            return []
        if media_type not in declared_content:
            return [f"{where}: content type {media_type} not declared ({sorted(declared_content)})"]
        if body is None or not _is_json(media_type):
            return []
        if "schema" not in declared_content[media_type]:
            return [f"{where}: answers JSON but declares no schema for it"]
        pointer = "/" + _pointer(
            "paths", template, method, "responses", key, "content", media_type, "schema"
        )
        return self._schema_violations(where, pointer, body)

    def check(self, response: httpx.Response, body: bytes | None) -> None:
        """Raise :class:`ContractViolation` unless the document declares ``response``."""
        request = response.request
        problems = self.violations(
            request.method, request.url.path, response.status_code, response.headers, body
        )
        if problems:
            raise ContractViolation(
                f"{request.method} {request.url} answered {response.status_code}, which the "
                "OpenAPI document does not declare:\n  "
                + "\n  ".join(problems)
                + (f"\nbody: {body[:500]!r}" if body else "")
            )

    def _problem_violations(
        self, headers: Mapping[str, str], body: bytes | None, what: str
    ) -> list[str]:
        media_type = _media_type(headers.get("content-type"))
        if media_type != "application/problem+json":
            return [f"{what}: answered {media_type}, not application/problem+json"]
        if body is None:
            return []
        return self._schema_violations(what, "/components/schemas/Problem", body)

    def _schema_violations(self, where: str, pointer: str, body: bytes) -> list[str]:
        try:
            instance = json.loads(body)
        except ValueError:
            return [f"{where}: the body is not JSON"]
        return [
            f"{where}: at {'/'.join(map(str, error.absolute_path)) or 'the top'}: {error.message}"
            for error in self._validator(pointer).iter_errors(instance)
        ][:10]


_contracts: dict[Any, OpenApiContract] = {}


def _fingerprint(app: Any) -> tuple:
    """The app's routes: two apps with the same routes serve the same document."""
    return tuple(
        sorted(
            (
                context.path or "",
                tuple(sorted(getattr(context, "methods", None) or ())),
                getattr(context.endpoint, "__module__", ""),
                getattr(context.endpoint, "__qualname__", ""),
            )
            for context in iter_route_contexts(app.routes)
        )
    )


async def contract_of(base_url: str) -> OpenApiContract:
    """The contract the app at ``base_url`` serves (fetched once per set of routes)."""
    app = served_app(base_url)
    key = _fingerprint(app) if app is not None else base_url
    found = _contracts.get(key)
    if found is None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as plain:
            answer = await plain.get(OPENAPI_URL)
        answer.raise_for_status()
        found = _contracts[key] = OpenApiContract(answer.json())
    return found


def _checker(base_url: str) -> Callable[[httpx.Response], Any]:
    contract: list[OpenApiContract] = []  # found on the client's first answer, then kept

    async def check(response: httpx.Response) -> None:
        media_type = _media_type(response.headers.get("content-type")) or ""
        body = None if media_type == "text/event-stream" else await response.aread()
        if not contract:
            contract.append(await contract_of(base_url))
        contract[0].check(response, body)

    return check


def checked_client(base_url: str, **options: Any) -> httpx.AsyncClient:
    """An HTTP client for the app at ``base_url`` that checks every answer against the
    app's OpenAPI document (``options`` as for :class:`httpx.AsyncClient`)."""
    hooks = dict(options.pop("event_hooks", None) or {})
    hooks["response"] = [*hooks.get("response", []), _checker(base_url)]
    return httpx.AsyncClient(base_url=base_url, event_hooks=hooks, **options)
