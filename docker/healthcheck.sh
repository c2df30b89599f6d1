#!/bin/sh
# HEALTHCHECK of the Cairn image: GET the running daemon's HTTP /health.
# The entrypoint records the URL in /tmp/cairn-health-url; a container running
# something other than a daemon (the CLI, a shell) has none and counts as healthy.
url="$(cat /tmp/cairn-health-url 2>/dev/null)" || exit 0
[ -n "$url" ] || exit 0
exec curl -fsS --max-time 2 -o /dev/null "$url"
