# pmo-sync: slim, non-root. `serve` migrates the store on start, then runs every scheduled
# connector's cycle (sync, KPIs, push) and serves /healthz, /readyz and /metrics on 9464
# (and the dashboard, once it has a token: see the ENV below).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pmo_sync ./pmo_sync
COPY connectors ./connectors
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 10001 pmo
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER pmo
WORKDIR /home/pmo
# The endpoints listen on every interface inside the container (its network is the
# boundary); outside a container the default stays 127.0.0.1. Beyond loopback the dashboard
# needs authentication, so the image serves only the probes until it is given some:
# PMO_SYNC_DASHBOARD=on with PMO_SYNC_DASHBOARD_TOKEN_FILE=/run/secrets/dashboard_token
# (or PMO_SYNC_DASHBOARD_USERS_FILE), as compose.example.yaml does.
ENV PMO_SYNC_CONFIG_DIR=/config \
    PMO_SYNC_DATABASE_URL=sqlite:////home/pmo/data/pmo-sync.sqlite3 \
    PMO_SYNC_CACHE_DIR=/home/pmo/.cache/pmo-sync \
    PMO_SYNC_LOG_FORMAT=json \
    PMO_SYNC_HTTP_HOST=0.0.0.0 \
    PMO_SYNC_HTTP_PORT=9464 \
    PMO_SYNC_DASHBOARD=off
EXPOSE 9464
VOLUME ["/home/pmo/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["pmo-sync", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["pmo-sync"]
CMD ["serve"]
