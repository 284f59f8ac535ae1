# citebot: the Discord bot and CLI, CPU-only, with the bundled embedding model.
#   docker build -t citebot .
#   docker run -e CITEBOT_DISCORD_TOKEN=... -v citebot-data:/data citebot
#   (Prometheus from another container: -e CITEBOT_METRICS_ADDRESS=0.0.0.0:9108 -p 9108:9108)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    CITEBOT_DATA_DIR=/data \
    CITEBOT_MODEL_CACHE_DIR=/data/models \
    CITEBOT_METRICS_ADDRESS=127.0.0.1:9108

WORKDIR /app
COPY pyproject.toml README.md ./
COPY scripts/ scripts/
COPY bot/ bot/
COPY config/ config/
COPY index/ index/
COPY retrieval/ retrieval/
COPY examples/ examples/

# The same set-up as the README's first command (without the test tools).
RUN bash scripts/setup --prod \
    && useradd --create-home --uid 10001 citebot \
    && mkdir -p /data \
    && chown citebot:citebot /data

USER 10001
VOLUME ["/data"]
# /healthz of `citebot run` (docs/OPERATING.md): the gateway connected, the store readable and
# the worker not stuck. Loading the model takes a while at start; a one-off CLI command serves
# no /healthz (docker-compose.yml turns the check off for it).
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["/app/.venv/bin/python", "-m", "bot.discord.healthcheck"]
ENTRYPOINT ["/app/.venv/bin/citebot"]
CMD ["run"]
