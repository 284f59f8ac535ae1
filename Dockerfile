# citebot: the Discord bot and CLI, CPU-only, with the bundled embedding model.
#   docker build -t citebot .
#   docker run -e CITEBOT_DISCORD_TOKEN=... -v citebot-data:/data citebot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    CITEBOT_DATA_DIR=/data \
    CITEBOT_MODEL_CACHE_DIR=/data/models

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
ENTRYPOINT ["/app/.venv/bin/citebot"]
CMD ["run"]
