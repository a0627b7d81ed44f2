#!/usr/bin/env bash
# Installs what `make demo` and `make test` need besides Go, and says what it
# installs: Java 17 (runs DynamoDB Local) and npm (fetches DynamoDB Local once,
# from the npm package amplify-dynamodb-simulator). On Debian or Ubuntu it
# installs them with apt-get (as root, or with sudo when that needs no
# password); elsewhere it stops and prints the command to run. With
# DDBEC_DYNAMODB_ENDPOINT set (e.g. docker compose up), nothing is needed.
# Used by the Makefile and by .ci/run.
set -euo pipefail

if [ -n "${DDBEC_DYNAMODB_ENDPOINT:-}" ]; then
  exit 0
fi
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    sudo="unavailable"
  fi
fi
if command -v apt-get >/dev/null 2>&1 && [ "$sudo" != "unavailable" ]; then
  echo "setup: installing ${missing[*]} with apt-get (Java runs DynamoDB Local; npm fetches it once)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  exit 0
fi

echo "setup: DynamoDB Local needs Java 17 and npm, and ${missing[*]} is missing. Run:" >&2
if command -v apt-get >/dev/null 2>&1; then
  echo "  sudo apt-get install -y ${missing[*]}" >&2
elif command -v brew >/dev/null 2>&1; then
  echo "  brew install openjdk@17 node" >&2
elif command -v dnf >/dev/null 2>&1; then
  echo "  sudo dnf install -y java-17-openjdk-headless npm" >&2
else
  echo "  (install a Java 17 runtime and Node.js with npm from your package manager)" >&2
fi
echo "or run DynamoDB Local yourself (docker compose up -d) and set DDBEC_DYNAMODB_ENDPOINT=http://127.0.0.1:8000" >&2
exit 1
