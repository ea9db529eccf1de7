# Image for the worker and codec-server services of docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY models models
COPY workflows workflows
COPY activities activities
COPY worker worker
COPY starter starter
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/breach breach && mkdir -p /var/lib/breach && chown breach /var/lib/breach
USER breach
ENTRYPOINT ["breach"]
