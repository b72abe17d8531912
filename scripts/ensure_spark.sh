#!/usr/bin/env bash
# Make the Spark engine's tests runnable: a Java runtime from Debian (default-jre-headless) and
# pyspark from requirements-spark.txt in the virtual environment given as $1 (default .venv).
# Idempotent; installs Java with apt-get only when run as root on Debian/Ubuntu; otherwise says
# that the Spark tests will be skipped.
set -u
VENV="${1:-.venv}"
if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's default-jre-headless for the Spark engine (once)..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null) || true
  fi
fi
if ! command -v java >/dev/null 2>&1; then
  echo "note: no Java runtime (default-jre-headless); the Spark engine's tests will be skipped"
  exit 0
fi
if ! "$VENV/bin/python" -c "import pyspark, sqlglot" >/dev/null 2>&1; then
  echo "installing pyspark for the Spark engine (once, ~430 MB)..."
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt \
    || echo "note: pyspark could not be installed; the Spark engine's tests will be skipped"
fi
exit 0
