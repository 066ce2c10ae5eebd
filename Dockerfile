# helpbot: one image for every mode (`serve` by default; `slack`, `discord`, `ingest`...), run
# as a non-root user, with the embedding model inside (no download at start).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY bots ./bots
COPY deploy/install-runtime ./deploy/install-runtime
RUN deploy/install-runtime /opt/helpbot /src

FROM ${PYTHON_IMAGE}
# git: for git sources in the sources file (cloned and pulled by `serve` and `sync`).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin helpbot \
    && mkdir -m 0700 /data \
    && chown helpbot:helpbot /data
COPY --from=build /opt/helpbot /opt/helpbot
ENV PATH=/opt/helpbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MILVUS_URI=/data/helpbot.db \
    EMBEDDING_CACHE_PATH=/data/embedding_cache.sqlite \
    FEEDBACK_PATH=/data/feedback.sqlite \
    GIT_CACHE_DIR=/data/git \
    HEALTH_PORT=8080 \
    HEALTH_HOST=0.0.0.0 \
    LOG_FORMAT=json
USER 10001:10001
WORKDIR /home/helpbot
VOLUME ["/data"]
# 3000: `helpbot slack --http` (/slack/events, /healthz, /readyz); 8080: /healthz, /readyz and
# /metrics in every mode, on every interface of the container (HEALTH_HOST) so probes and
# Prometheus reach it: publish it to the cluster network only.
EXPOSE 3000 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["helpbot"]
CMD ["serve"]
