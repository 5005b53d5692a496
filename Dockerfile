FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
# the workspace member `ticketing-sdk` packs kernel/, sdk/ and migrations/ from the root
COPY packages/ticketing-sdk packages/ticketing-sdk
COPY kernel kernel
COPY builtin_plugins builtin_plugins
COPY sdk sdk
COPY marketplace marketplace
COPY migrations migrations
RUN uv sync --frozen --no-dev
ENV PATH="/app/.venv/bin:$PATH"
EXPOSE 8000
CMD ["ticketing", "serve", "--host", "0.0.0.0", "--port", "8000"]
