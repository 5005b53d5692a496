"""Request and response bodies of the events API (events, their dates, categories).

Single-field rules live on the fields, so a bad value is a 422 naming that field.
Rules that span fields (a physical event needs a venue, a virtual one a stream) must also
hold after a partial update, so they are functions over the merged state
(:func:`place_errors`) that the service runs on create and on update alike; they answer
in the same ``{location, message, type}`` shape as request validation.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import uuid
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

from builtin_plugins.events.models import EventKind, EventStatus
from builtin_plugins.events.sanitize import sanitize_html

MAX_TAGS = 20
MAX_DATES = 500
MAX_DESCRIPTION_CHARS = 50_000
MAX_CAPACITY = 2_147_483_647  # the column is a PostgreSQL integer
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
KINDS_WITH_VENUE = frozenset({EventKind.PHYSICAL, EventKind.HYBRID})
KINDS_WITH_STREAM = frozenset({EventKind.VIRTUAL, EventKind.HYBRID})
PUBLIC_STATUSES = frozenset({EventStatus.PUBLISHED, EventStatus.COMPLETED})


# --------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------


@functools.cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: str) -> str:
    """An IANA name the server's tz database knows; we convert dates with it later."""
    known = _known_time_zones()
    if known:
        if value not in known:
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Europe/Berlin')")
        return value
    try:  # no listing available (minimal images): ask zoneinfo directly
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Europe/Berlin')") from exc
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


_HTTP_URL = TypeAdapter(HttpUrl)


def _https_url(value: str) -> str:
    """Stream links go to attendees' browsers: plain http would leak them on the wire."""
    url = _HTTP_URL.validate_python(value)
    if url.scheme != "https":
        raise ValueError("the stream URL must use https")
    return value


def _lower_stripped(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _upper_stripped(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _printable_tag(value: str) -> str:
    if any(unicodedata.category(char).startswith("C") or char == "," for char in value):
        raise ValueError("a tag may not contain commas or control characters")
    return re.sub(r"\s+", " ", value)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Slug = Annotated[str, StringConstraints(max_length=120, pattern=SLUG_PATTERN)]
Description = Annotated[
    str, StringConstraints(max_length=MAX_DESCRIPTION_CHARS), AfterValidator(sanitize_html)
]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_time_zone)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Tag = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    BeforeValidator(_lower_stripped),
    AfterValidator(_printable_tag),
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_unique)]
CategorySlug = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=SLUG_PATTERN)]
VenueName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
StreamUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_https_url)]
Capacity = Annotated[int, Field(ge=0, le=MAX_CAPACITY)]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


def slugify(text: str, *, max_length: int = 100) -> str:
    """An ASCII slug for a title (``Rock am Ring 2027`` -> ``rock-am-ring-2027``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-") or "event"


# --------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------


class AddressCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line1: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    line2: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    postal_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)
    ]
    # ISO 3166-1 alpha-2, upper case; we check the shape, not the list of assigned codes.
    country: Annotated[
        str, StringConstraints(pattern=r"^[A-Z]{2}$"), BeforeValidator(_upper_stripped)
    ]


class AddressPublic(AddressCreate):
    model_config = ConfigDict(extra="ignore")


def _ends_after_start(value: datetime | None, info: ValidationInfo) -> datetime | None:
    starts_at = info.data.get("starts_at")
    if value is not None and starts_at is not None and value <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    return value


class EventDateCreate(BaseModel):
    """One date of an event; times must carry an offset and are stored in UTC.
    ``ends_at`` must be after ``starts_at``, and no two dates of an event start at the
    same moment."""

    model_config = ConfigDict(extra="forbid")

    starts_at: UtcDatetime
    ends_at: UtcDatetime
    capacity: Capacity | None = None

    _check_end = field_validator("ends_at")(_ends_after_start)


class EventDateUpdate(BaseModel):
    """Only the fields sent change; ``capacity: null`` removes the date's own limit.
    ``starts_at`` and ``ends_at`` may not be null, and ``ends_at`` stays after
    ``starts_at``."""

    model_config = ConfigDict(extra="forbid")

    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    capacity: Capacity | None = None

    _check_end = field_validator("ends_at")(_ends_after_start)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _not_null(cls, value: datetime | None) -> datetime:
        if value is None:
            raise ValueError("may not be null")
        return value


class EventCreate(BaseModel):
    """A new event (always a draft). Give ``dates`` for a series, or ``starts_at`` and
    ``ends_at`` for a single date (one of the two, not both); ``slug`` defaults to one
    made from the title.

    Where it happens must fit ``kind``: ``physical`` and ``hybrid`` events need
    ``venue_name`` and ``address``, ``virtual`` ones have neither (nor coordinates);
    ``virtual`` and ``hybrid`` events need an https ``stream_url``, ``physical`` ones have
    none; ``latitude`` and ``longitude`` come together. ``ends_at`` is after
    ``starts_at``; no two dates start at the same moment."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    slug: Slug | None = None
    description: Description = ""
    timezone: TimeZone
    currency: Currency
    kind: EventKind = EventKind.PHYSICAL
    category: CategorySlug | None = None
    tags: Tags = Field(default_factory=list)
    venue_name: VenueName | None = None
    address: AddressCreate | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    stream_url: StreamUrl | None = None
    capacity: Capacity | None = None
    dates: Annotated[list[EventDateCreate], Field(min_length=1, max_length=MAX_DATES)] | None = None
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None

    _check_end = field_validator("ends_at")(_ends_after_start)


NOT_NULLABLE_ON_UPDATE = ("title", "slug", "description", "timezone", "currency", "kind", "tags")


class EventUpdate(BaseModel):
    """Only the fields sent change; ``null`` clears the optional ones (venue, capacity...).
    Dates change through their own endpoints. The event after the change must still fit
    its ``kind`` as on creation (a venue and address for physical and hybrid events, an
    https ``stream_url`` for virtual and hybrid ones, ``latitude`` with ``longitude``)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    slug: Slug | None = None
    description: Description | None = None
    timezone: TimeZone | None = None
    currency: Currency | None = None
    kind: EventKind | None = None
    category: CategorySlug | None = None
    tags: Tags | None = None
    venue_name: VenueName | None = None
    address: AddressCreate | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    stream_url: StreamUrl | None = None
    capacity: Capacity | None = None

    @field_validator(*NOT_NULLABLE_ON_UPDATE)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value


class EventCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


EventSort = Literal["starts_at", "-starts_at", "title", "relevance", "price"]


def _split_commas(value: Any) -> Any:
    """``tags=a,b`` and ``tags=a&tags=b`` mean the same."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [part for item in value for part in str(item).split(",") if part.strip()]
    return value


class EventSearch(BaseModel):
    """Filters, sorting and paging of event lists (public and organizer)."""

    model_config = ConfigDict(extra="ignore")

    q: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    category: CategorySlug | None = None
    tags: Annotated[list[Tag], BeforeValidator(_split_commas), Field(max_length=MAX_TAGS)] = Field(
        default_factory=list, description="events carrying every one of these tags"
    )
    starts_after: UtcDatetime | None = Field(None, description="a date starts at or after this")
    starts_before: UtcDatetime | None = Field(None, description="a date starts before this")
    status: list[EventStatus] = Field(default_factory=list)
    kind: EventKind | None = None
    lat: Latitude | None = None
    lng: Longitude | None = None
    radius_km: Annotated[float, Field(gt=0, le=20_000, allow_inf_nan=False)] | None = None
    min_price: Annotated[int, Field(ge=0)] | None = Field(
        None, description="minor units; the cheapest public ticket type costs at least this"
    )
    max_price: Annotated[int, Field(ge=0)] | None = Field(
        None, description="minor units; the cheapest public ticket type costs at most this"
    )
    sort: EventSort | None = Field(
        None, description="default: relevance when q is given, else starts_at"
    )
    cursor: Annotated[str, StringConstraints(max_length=1000)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20

    def filters(self) -> dict[str, Any]:
        """What selects and orders the results (not the page): keys a cache and a cursor."""
        return self.model_dump(mode="json", exclude={"cursor", "limit"})


# --------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------


class CategoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str


class EventDatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    capacity: int | None


class EventPublic(BaseModel):
    """An event as its organization sees it (stream link and capacity included)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    slug: str
    title: str
    description: str
    status: EventStatus
    kind: EventKind
    timezone: str
    currency: str
    starts_at: datetime
    ends_at: datetime
    category: CategoryPublic | None
    tags: list[str]
    venue_name: str | None
    address: AddressPublic | None
    latitude: float | None
    longitude: float | None
    stream_url: str | None
    capacity: int | None
    dates: list[EventDatePublic]
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None


class EventSummaryPublic(BaseModel):
    """A published event in a public list: never the stream link."""

    id: uuid.UUID
    organization_id: uuid.UUID
    slug: str
    title: str
    description: str
    status: EventStatus
    kind: EventKind
    timezone: str
    currency: str
    starts_at: datetime
    ends_at: datetime
    category: CategoryPublic | None
    tags: list[str]
    venue_name: str | None
    address: AddressPublic | None
    latitude: float | None
    longitude: float | None
    has_stream: bool
    min_price: int | None = Field(description="cheapest public ticket type, minor units")
    distance_km: float | None = Field(None, description="from lat/lng, when they were given")


class PublicDatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


class TicketOfferPublic(BaseModel):
    """A public ticket type as a buyer sees it on the event page."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    price_amount: int
    currency: str
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    min_per_order: int
    max_per_order: int


class EventDetailPublic(EventSummaryPublic):
    dates: list[PublicDatePublic]
    ticket_types: list[TicketOfferPublic]
    published_at: datetime | None


class StreamPublic(BaseModel):
    event_id: uuid.UUID
    stream_url: str


# --------------------------------------------------------------------------------------
# Rules across fields
# --------------------------------------------------------------------------------------


def field_error(location: list[str | int], message: str, type_: str = "value_error") -> dict:
    """One entry of a 422 ``errors`` list, shaped as request validation answers."""
    return {"location": [str(part) for part in location], "message": message, "type": type_}


def place_errors(state: Mapping[str, Any], *, where: str = "body") -> list[dict]:
    """Where the event happens must fit its kind: a venue for physical and hybrid events,
    an https stream for virtual and hybrid ones, coordinates both or neither."""
    kind = EventKind(state["kind"])
    errors = []
    if kind in KINDS_WITH_VENUE:
        if not state.get("venue_name"):
            errors.append(
                field_error([where, "venue_name"], f"a {kind} event needs a venue", "missing")
            )
        if not state.get("address"):
            errors.append(
                field_error([where, "address"], f"a {kind} event needs an address", "missing")
            )
        if (state.get("latitude") is None) != (state.get("longitude") is None):
            missing = "longitude" if state.get("longitude") is None else "latitude"
            errors.append(
                field_error([where, missing], "give latitude and longitude together", "missing")
            )
    else:
        for name in ("venue_name", "address", "latitude", "longitude"):
            if state.get(name) is not None:
                errors.append(field_error([where, name], f"a {kind} event has no {name}"))
    if kind in KINDS_WITH_STREAM:
        if not state.get("stream_url"):
            errors.append(
                field_error(
                    [where, "stream_url"], f"a {kind} event needs an https stream_url", "missing"
                )
            )
    elif state.get("stream_url") is not None:
        errors.append(field_error([where, "stream_url"], f"a {kind} event has no stream_url"))
    return errors


def date_list_errors(dates: list[EventDateCreate], *, location: list[str | int]) -> list[dict]:
    """Two dates of one event may not start at the same moment (a duplicate, surely)."""
    seen: dict[datetime, int] = {}
    errors = []
    for index, date in enumerate(dates):
        if date.starts_at in seen:
            errors.append(
                field_error(
                    [*location, index, "starts_at"],
                    f"date {seen[date.starts_at]} already starts at this time",
                )
            )
        seen.setdefault(date.starts_at, index)
    return errors
