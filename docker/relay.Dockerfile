# homehub relay: the internet service hubs dial out to. One process holds ~20k idle hub
# tunnels; raise the open-file limit accordingly (compose.relay.yml does).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOMEHUB_RELAY_DATA_DIR=/data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY relay ./relay
COPY tui ./tui
COPY integrations ./integrations
COPY ir_codes ./ir_codes
RUN pip install . && useradd --system --home /data relay && mkdir -p /data && chown relay /data

USER relay
VOLUME ["/data"]
EXPOSE 8480
# SIGTERM drains: hubs are told to reconnect after spread-out delays, so give it time.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8480/v1/health', timeout=4)" || exit 1
ENTRYPOINT ["homehub"]
CMD ["relay", "serve", "--host", "0.0.0.0", "--port", "8480", "--data-dir", "/data"]
