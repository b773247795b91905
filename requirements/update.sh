#!/usr/bin/env bash
# Regenerates the locks from pyproject.toml's ranges: exact versions with hashes
# for CPython 3.11, made by pip-tools (pinned here, in a throw-away environment,
# so the same inputs give the same lock on any machine).
#   requirements/test.txt — runtime + build + test + lint: what the tests and CI install
#   requirements/run.txt  — runtime + build only, constrained to test.txt's versions,
#                           so the demo runs exactly what the tests tested
# Usage: bash requirements/update.sh [--upgrade | --upgrade-package NAME …]
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/python" -m pip install -q pip-tools==7.6.2
compile=("$tools/bin/pip-compile" -q --generate-hashes --allow-unsafe --all-build-deps --strip-extras
         --no-emit-index-url --no-emit-find-links --no-emit-trusted-host "$@")
"${compile[@]}" --extra test --extra lint -o requirements/test.txt pyproject.toml
"${compile[@]}" --constraint requirements/test.txt -o requirements/run.txt pyproject.toml
echo "locks written: requirements/test.txt requirements/run.txt"
