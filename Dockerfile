# depthlens: API + dashboard on one port, embedded local exchange by default (no network needed).
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config.py main.py ./
COPY data_ingestion ./data_ingestion
COPY orderbook ./orderbook
COPY features ./features
COPY state ./state
COPY insights ./insights
COPY api ./api
COPY dashboard ./dashboard
COPY local_exchange ./local_exchange
RUN pip install --no-cache-dir . && useradd --create-home depthlens
USER depthlens

EXPOSE 8000
# Inside a container the port must be reachable from outside it; on a host, keep 127.0.0.1.
ENV DEPTHLENS_HOST=0.0.0.0
CMD ["python", "main.py"]
