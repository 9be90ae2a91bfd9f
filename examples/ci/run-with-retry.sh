#!/bin/sh
# Runs a qhil command, retrying it only when it exits 3 (the rig's error: a port gone, the reference
# unreachable, a board leased past --wait). 0 and 1 are verdicts (1: the firmware failed) and 2 is
# bad input: retrying either cannot change the answer, so they are returned at once.
#   run-with-retry.sh <attempts> <pause-seconds> <command> [args...]
set -u
attempts=$1
pause=$2
shift 2
attempt=1
while :; do
  "$@"
  code=$?
  if [ "$code" -ne 3 ] || [ "$attempt" -ge "$attempts" ]; then
    exit "$code"
  fi
  echo "run-with-retry: exit 3 (rig error) on attempt $attempt of $attempts; again in ${pause}s" >&2
  attempt=$((attempt + 1))
  sleep "$pause"
done
