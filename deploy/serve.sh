#!/bin/sh
# `make run`: the job runner (`attune run-due --loop`) beside the Streamlit app, both stopped
# together (Ctrl-C, a TERM to this script, or the app ending). The app never schedules
# anything itself: every replica would fire it.
# Usage: deploy/serve.sh BIN_DIR PORT
set -u
BIN="$1"
PORT="$2"

"$BIN/attune" run-due --loop &
RUNNER=$!
"$BIN/streamlit" run dashboard/app.py --server.port "$PORT" &
APP=$!

stop() {
    trap - INT TERM
    # TERM lets the runner finish the message in hand and say "Stopped."
    kill -TERM "$APP" "$RUNNER" 2>/dev/null
    wait "$APP" 2>/dev/null
    wait "$RUNNER" 2>/dev/null
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

wait "$APP"
stop
