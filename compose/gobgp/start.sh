#!/bin/sh
# Runs gobgpd and announces the GoBGP lab network once its API answers (GoBGP's
# configuration file cannot originate routes). `gobgp neighbor` works in the container.
set -eu
gobgpd -f /etc/gobgp/gobgpd.toml -p --api-hosts 127.0.0.1:50051 --pprof-disable &
pid=$!
trap 'kill -TERM "$pid"' TERM INT
tries=0
until gobgp -u 127.0.0.1 -p 50051 global >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 100 ]; then echo "gobgpd API did not answer" >&2; exit 1; fi
  sleep 0.2
done
gobgp -u 127.0.0.1 -p 50051 global rib add -a ipv4 192.0.2.64/26
# wait returns early when the trap runs; wait again for gobgpd's own exit status.
wait "$pid" || wait "$pid"
