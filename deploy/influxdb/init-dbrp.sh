#!/bin/sh
# Run once by the influxdb:2 image after its initial setup (/docker-entrypoint-initdb.d/).
# Maps InfluxQL database "tyndau" (retention policy "autogen") onto the bucket, so that the
# collector's and Grafana's InfluxQL queries on /query work (docs/operators.md, DESIGN decision 2).
set -eu
influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
  --rp autogen \
  --default
