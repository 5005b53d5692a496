"""FastAPI dependencies every plugin's routes use (``Annotated`` aliases)."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.context import Kernel


async def get_kernel(request: Request) -> Kernel:
    """``async`` on purpose: FastAPI runs plain ``def`` dependencies in a thread pool."""
    return request.app.state.kernel


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    async with request.app.state.kernel.database.transaction() as session:
        yield session


KernelDep = Annotated[Kernel, Depends(get_kernel)]
# scope="function": the commit happens before the response is sent, so a failed commit
# is answered as an error instead of a success that was never stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


def no_store() -> Any:
    """For routes whose answers hold credentials (tokens, a session, a CSRF token): no
    browser or proxy may keep a copy (``Cache-Control: no-store``, RFC 6749 section 5.1)."""
    return Depends(_no_store)
