#!/bin/sh
# Runs gobgpd in the foreground (it gets the container's signals) and announces the GoBGP lab
# network once its API answers: GoBGP's configuration file cannot originate routes.
# `gobgp neighbor` and `gobgp global rib` work in the container.
set -eu
config="${GOBGPD_CONFIG:-/etc/gobgp/gobgpd.toml}"
(
  tries=0
  until gobgp -u 127.0.0.1 -p 50051 global >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 150 ]; then echo "gobgp-start: gobgpd's API did not answer" >&2; exit 1; fi
    sleep 0.2
  done
  gobgp -u 127.0.0.1 -p 50051 global rib add -a ipv4 192.0.2.64/26
  echo "gobgp-start: announced 192.0.2.64/26" >&2
) &
exec gobgpd -f "$config" -p --api-hosts 127.0.0.1:50051 --pprof-disable
