"""What a plugin's routes declare and take, so every route of the API looks alike.

* access: every route declares who may call it (:func:`public`, :func:`signed_in`,
  :func:`public_or_signed_in` or :func:`requires` a permission in an organization); the
  kernel refuses to serve a route that declares none. :func:`authenticate` resolves the
  caller where a route decides by itself (a WebSocket handshake);
* dependencies: the running :data:`KernelDep`, a request-scoped :data:`SessionDep`,
  :func:`no_store` for answers no cache may keep;
* lists: every list answers an :class:`ItemList`, a paged one a :class:`Page` built with
  :func:`keyset_page`;
* limits: :func:`max_body_size` for a route whose body may exceed the default;
  :func:`admitted` for a buying route that sheds load in a flash sale (503 ``overloaded``,
  raised as :class:`Overloaded`, once too many of its requests are in flight);
* a guest's order credential (:data:`OrderCredential`);
* :func:`websocket_contract` documents a WebSocket route in the OpenAPI document;
* :data:`API_PREFIX`, the path every plugin router is mounted under.
"""

from kernel.admission import Overloaded, admitted

# API_PREFIX is defined where the app mounts the routers; only the constant is taken.
from kernel.app import API_PREFIX
from kernel.auth import (
    AccessRule,
    Authenticated,
    OrganizationPermission,
    PlatformPermission,
    Public,
    PublicOrSignedIn,
    authenticate,
    public,
    public_or_signed_in,
    requires,
    signed_in,
)
from kernel.dependencies import KernelDep, SessionDep, no_store
from kernel.order_credentials import MAX_ORDER_TOKEN_LENGTH, OrderCredential
from kernel.pagination import ItemList, Page, RowsPage, keyset_page
from kernel.request_limits import KIB, MIB, max_body_size
from kernel.websockets import websocket_contract

__all__ = [
    "API_PREFIX",
    "KIB",
    "MAX_ORDER_TOKEN_LENGTH",
    "MIB",
    "AccessRule",
    "Authenticated",
    "ItemList",
    "KernelDep",
    "OrderCredential",
    "OrganizationPermission",
    "Overloaded",
    "Page",
    "PlatformPermission",
    "Public",
    "PublicOrSignedIn",
    "RowsPage",
    "SessionDep",
    "admitted",
    "authenticate",
    "keyset_page",
    "max_body_size",
    "no_store",
    "public",
    "public_or_signed_in",
    "requires",
    "signed_in",
    "websocket_contract",
]
