#!/usr/bin/env bash
# Find the steps that are not in place and fix only those, one command each (showing each plan and asking first).
#
#   examples/fix-one-step.sh                 # against the tenant in natoma-entra.toml (sign-in as configured)
#   examples/fix-one-step.sh --sandbox       # try it on the built-in sandbox
#   examples/fix-one-step.sh --yes ...       # do not ask before each fix
#
# Any other arguments (global options such as --config, --app, --auth, --sandbox) are passed to every command.
# Needs natoma-entra and python3 on PATH. Exit: 0 everything in place, 1 a fix failed, 2 bad usage.
set -euo pipefail

ask=1
args=()
for a in "$@"; do
  if [ "$a" = "--yes" ]; then ask=0; else args+=("$a"); fi
done

# status: one step per row, each with info.state = in place | drifted | missing
code=0
report=$(natoma-entra "${args[@]}" --output json --quiet status) || code=$?
if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then
  echo "status failed (exit $code)" >&2
  exit "$code"
fi
mapfile -t todo < <(python3 -c '
import json, sys
for step in json.load(sys.stdin)["steps"]:
    if step.get("info", {}).get("state") in ("missing", "drifted"):
        print(step["step"])
' <<< "$report")

if [ "${#todo[@]}" -eq 0 ]; then
  echo "every step is in place"
  exit 0
fi

for step in "${todo[@]}"; do
  echo "== $step: not in place"
  if [ "$ask" -eq 1 ]; then
    natoma-entra "${args[@]}" --dry-run "$step" || true   # the plan, nothing written
    read -r -p "fix $step now? [y/N] " yes
    [ "$yes" = "y" ] || { echo "skipped $step"; continue; }
  fi
  natoma-entra "${args[@]}" "$step"
done
