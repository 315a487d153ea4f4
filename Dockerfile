# pmo-sync: slim, non-root; the store is migrated before every command that uses it.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pmo_sync ./pmo_sync
COPY connectors ./connectors
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 pmo
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER pmo
WORKDIR /home/pmo
ENV PMO_SYNC_CONFIG_DIR=/config \
    PMO_SYNC_DATABASE_URL=sqlite:////home/pmo/data/pmo-sync.sqlite3 \
    PMO_SYNC_LOG_FORMAT=json
VOLUME ["/home/pmo/data"]
ENTRYPOINT ["pmo-sync"]
CMD ["sync"]
