# homehub hub: the LAN daemon. Run it with host networking (see compose.hub.yml): mDNS and
# ECHONET Lite multicast do not cross Docker's bridge network.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOMEHUB_DATA_DIR=/data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY relay ./relay
COPY tui ./tui
COPY integrations ./integrations
COPY ir_codes ./ir_codes
RUN pip install . && useradd --system --home /data homehub && mkdir -p /data && chown homehub /data

USER homehub
VOLUME ["/data"]
EXPOSE 8470
# ECHONET Lite replies to UDP 3610 and Broadlink devices answer the sender; both need the host network.
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8470/api/v1/health', timeout=4)" || exit 1
ENTRYPOINT ["homehub"]
CMD ["hub", "--data-dir", "/data"]
