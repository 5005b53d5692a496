# syntax=docker/dockerfile:1.7
# The platform's image: `ticketing serve`, `ticketing migrate` and `ticketing worker` all run
# from it (compose.yml picks the command). Two stages: the builder resolves everything from
# uv.lock; the runtime stage gets the finished virtual environment and nothing else (no uv,
# no compilers, no source tree), and runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/ticketing/venv
WORKDIR /src

# 1. Third-party dependencies alone, exactly as locked. Only the lock and the two projects'
#    metadata are copied, so this layer is rebuilt when a dependency changes, not when the
#    code does. (--no-install-workspace: the root project and the ticketing-sdk member are
#    installed in step 2, once their code is here.)
COPY pyproject.toml uv.lock README.md ./
COPY packages/ticketing-sdk/pyproject.toml packages/ticketing-sdk/README.md \
     packages/ticketing-sdk/hatch_build.py packages/ticketing-sdk/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project --no-install-workspace

# 2. The code, then the two projects themselves, built as wheels into the environment
#    (--no-editable), so the runtime stage needs no source tree.
COPY kernel kernel
COPY sdk sdk
COPY migrations migrations
COPY builtin_plugins builtin_plugins
COPY marketplace marketplace
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable


FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH="/opt/ticketing/venv/bin:$PATH" \
    TICKETING_DATA_DIR=/var/lib/ticketing
RUN groupadd --system --gid 10001 ticketing \
    && useradd --system --uid 10001 --gid ticketing --home-dir /var/lib/ticketing \
       --shell /usr/sbin/nologin ticketing \
    && install -d -o ticketing -g ticketing -m 0750 /var/lib/ticketing
COPY --from=builder /opt/ticketing/venv /opt/ticketing/venv
WORKDIR /var/lib/ticketing
USER ticketing:ticketing
EXPOSE 8000
# Liveness only: readiness (database, storage) is the load balancer's business, and a
# replica must not be marked unhealthy because PostgreSQL restarts.
HEALTHCHECK --interval=10s --timeout=4s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=3)"]
STOPSIGNAL SIGTERM
CMD ["ticketing", "serve", "--host", "0.0.0.0", "--port", "8000"]
