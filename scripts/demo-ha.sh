#!/usr/bin/env bash
# `make demo-ha`: `make demo` with the broker as two replicas on one PostgreSQL database behind a
# round-robin load balancer, as production runs it. The demo's URLs stay the same: the balancer
# (scripts/balancer.py) listens on http://127.0.0.1:8000, the issuer, and sends each request to
# the next replica (127.0.0.1:8010 and :8011), so one login's steps alternate between them.
# PostgreSQL is a throwaway cluster in var/ha/pg (as root: /var/tmp/sote-broker-demo-ha-pg) on 127.0.0.1:8005 (scripts/pg_cluster.py;
# as the `postgres` user when root), created at start and deleted at stop. Both replicas share
# config/development.yaml's cookie secret, subject key and key directories in var/. The mock
# IdPs, mail sink and demo portal are those of `make demo` (scripts/demo.sh), on the same ports.
#
#   DEMO_NO_WAIT=1   start, check the discovery document and /health/ready through the balancer,
#                    print the instructions, stop and exit (a smoke test)
#   DEMO_KEEP_DB=1   keep the cluster at stop (the next run starts from it)
#   DEMO_PG_DIR=...  where the cluster lives
set -euo pipefail

cd "$(dirname "$0")/.."

CONFIG=config/development.yaml
VENV=${VENV:-.venv}
PY=$VENV/bin/python
BROKER=("$VENV/bin/sote-broker" --config "$CONFIG")
STARTUP_SECONDS=${DEMO_STARTUP_SECONDS:-30}
STOP_SECONDS=10

ISSUER=http://127.0.0.1:8000
REPLICA_PORTS=(8010 8011)
if [[ $EUID -eq 0 ]]; then
    # As root, pg_cluster runs the server as the postgres user, who cannot enter var/ (0700: the
    # broker keeps its keys and database there), so the cluster lives in /var/tmp instead.
    PG_DIR=${DEMO_PG_DIR:-/var/tmp/sote-broker-demo-ha-pg}
else
    PG_DIR=${DEMO_PG_DIR:-var/ha/pg}
fi
if [[ -L $PG_DIR ]]; then
    echo "demo-ha: $PG_DIR is a symbolic link; refusing to use it" >&2
    exit 1
fi
mkdir -p var/ha
PG_PORT=8005
SP_METADATA=var/ha/sp-metadata.xml
PORTAL=http://127.0.0.1:8001
MOCK_IDP=http://127.0.0.1:8002
ORG_SAML_IDP=http://127.0.0.1:8004
MAIL_SINK=http://127.0.0.1:8006
MAIL_SINK_SMTP_PORT=8025
MOCK_IDP_SECRET=mock-idp-secret-for-development-only # mock_idps/test_users.yaml; not a secret
for org in HUS PSHVA PIRHA LSHP PAJJATHA; do
    export "SOTE_BROKER_IDP_${org}_SECRET=$MOCK_IDP_SECRET"
done
CLIENT_ID=demo-portal
CLIENT_SECRET=demo-portal-secret-for-development-only-0001

# shellcheck source=scripts/demo-lib.sh
source scripts/demo-lib.sh

# shellcheck disable=SC2329  # invoked by cleanup, after every process has stopped
after_cleanup() {
    rm -f "$SP_METADATA"
    if [[ ${DEMO_KEEP_DB:-} != 1 ]]; then rm -rf "$PG_DIR"; fi
}

if [[ ! -x $VENV/bin/sote-broker ]]; then
    say "$VENV/bin/sote-broker is missing; run make install (or make demo-ha)"
    exit 1
fi
for busy in 8000 "${REPLICA_PORTS[@]}" "$PG_PORT" 8001 8002 8003 8004 8006 "$MAIL_SINK_SMTP_PORT"; do
    if port_busy 127.0.0.1 "$busy"; then
        say "port $busy is already in use (make demo-ha needs 8000-8006, 8010, 8011 and" \
            "$MAIL_SINK_SMTP_PORT); stop what runs there first"
        exit 1
    fi
done

# 1. PostgreSQL: a fresh cluster unless DEMO_KEEP_DB=1 kept the last one.
if [[ ${DEMO_KEEP_DB:-} != 1 ]]; then rm -rf "$PG_DIR"; fi
start postgresql "$PY" -m scripts.pg_cluster serve "$PG_DIR" "$PG_PORT"
DSN=$("$PY" -m scripts.pg_cluster ready "$PG_DIR" "$PG_PORT" --database broker)
say "PostgreSQL is up: $DSN"
export SOTE_BROKER__STORE__BACKEND=postgresql SOTE_BROKER__STORE__DSN=$DSN

# 2. Schema, settings check, and the demo portal as a client.
"${BROKER[@]}" migrate
"${BROKER[@]}" check-config
printf '%s\n' "$CLIENT_SECRET" | "${BROKER[@]}" clients add \
    --client-id "$CLIENT_ID" \
    --name "Demo portal" \
    --redirect-uri "$PORTAL/callback" \
    --post-logout-redirect-uri "$PORTAL/" \
    --backchannel-logout-uri "$PORTAL/backchannel-logout" \
    --auth-method client_secret_basic \
    --scope openid --scope profile --scope email --scope phone --scope professional \
    --secret-stdin

# 3. The processes; the mocks call back to the issuer, i.e. through the balancer.
start mail-sink "$PY" -m mock_idps.mail_sink --host 127.0.0.1 \
    --smtp-port "$MAIL_SINK_SMTP_PORT" --http-port 8006
wait_until_up mail-sink "${pids[-1]}" "$MAIL_SINK/healthz"
start mock-idp "$PY" -m mock_idps.oidc_idp --host 127.0.0.1 --port 8002 \
    --redirect-uri "$ISSUER/upstream/oidc/callback/{org}" --key-dir var/mock-idp-keys
wait_until_up mock-idp "${pids[-1]}" "$MOCK_IDP/hus/.well-known/openid-configuration"
# The SAML mocks read the broker's SP metadata when they start, and a replica reads theirs when
# it starts (a failed fetch is retried only after 60 s, and the replica is not ready meanwhile).
# So a first broker process serves the SP metadata into a file and stops, the mocks start from
# that file, and then the replicas, which find the mocks' metadata at once.
start sp-metadata env SOTE_BROKER__PORT="${REPLICA_PORTS[0]}" "${BROKER[@]}" serve
wait_until_up sp-metadata "${pids[-1]}" "http://127.0.0.1:${REPLICA_PORTS[0]}/healthz"
"$PY" -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=10).read())' \
    "http://127.0.0.1:${REPLICA_PORTS[0]}/saml/metadata" >"$SP_METADATA"
stop_last
start suomifi-idp "$PY" -m mock_idps.suomifi_idp --host 127.0.0.1 --port 8003 \
    --sp-metadata "$SP_METADATA" --key-dir var/suomifi-mock-keys
wait_until_up suomifi-idp "${pids[-1]}" "http://127.0.0.1:8003/metadata"
start org-saml-idp "$PY" -m mock_idps.org_saml_idp --host 127.0.0.1 --port 8004 \
    --sp-metadata "$SP_METADATA" --key-dir var/org-saml-mock-keys
wait_until_up org-saml-idp "${pids[-1]}" "$ORG_SAML_IDP/oys/metadata"
upstreams=()
for port in "${REPLICA_PORTS[@]}"; do
    start "broker:$port" env SOTE_BROKER__PORT="$port" "${BROKER[@]}" serve
    wait_until_up "broker:$port" "${pids[-1]}" "http://127.0.0.1:$port/healthz"
    upstreams+=("http://127.0.0.1:$port")
done
start balancer "$PY" -m scripts.balancer --host 127.0.0.1 --port 8000 "${upstreams[@]}"
wait_until_up balancer "${pids[-1]}" "$ISSUER/healthz"
balancer_pid=${pids[-1]}
start portal env DEMO_PORTAL_CLIENT_SECRET="$CLIENT_SECRET" \
    "$PY" -m mock_idps.demo_portal --issuer "$ISSUER" --client-id "$CLIENT_ID" \
    --host 127.0.0.1 --port 8001 --public-url "$PORTAL"
wait_until_up portal "${pids[-1]}" "$PORTAL/healthz"

# 4. Through the balancer: what a portal and a load balancer's probe ask first. Readiness is
# asked once per replica (round robin), so both must be ready.
for _ in "${REPLICA_PORTS[@]}"; do
    wait_until_up "balancer (/health/ready)" "$balancer_pid" "$ISSUER/health/ready"
done
wait_until_up "balancer (discovery)" "$balancer_pid" "$ISSUER/.well-known/openid-configuration"

cat <<EOF

  sote-broker HA demo is up: two replicas on PostgreSQL behind a round-robin load balancer

  Open the demo portal:   $PORTAL/   (and log in as in make demo: docs/operating.md)
  Every request to $ISSUER goes to the next replica in turn, so each step of a login is
  served by the other process; both share the database, the keys and the cookie secret.

  Balancer        $ISSUER (scripts/balancer.py) -> ${upstreams[*]}
  Replicas        ${upstreams[0]}/health/ready, ${upstreams[1]}/health/ready
  PostgreSQL      $DSN (throwaway: $PG_DIR)
  Broker          $ISSUER/.well-known/openid-configuration
  Portal client   client_id $CLIENT_ID, client_secret $CLIENT_SECRET (client_secret_basic)
  Mock OIDC IdP   $MOCK_IDP/hus/.well-known/openid-configuration (and /pshva, /pirha, …)
  Mock Suomi.fi   http://127.0.0.1:8003/metadata
  Mock SAML orgs  $ORG_SAML_IDP/ (OYS, TYKS, Soite)
  Mail sink       $MAIL_SINK/ (SMTP 127.0.0.1:$MAIL_SINK_SMTP_PORT)

  Try stopping one replica (kill the pid printed for broker:8010): the balancer skips a
  replica that refuses connections, and logins go on at the other one.

EOF

if [[ ${DEMO_NO_WAIT:-} == 1 ]]; then
    say "DEMO_NO_WAIT=1: everything answered through the balancer; stopping"
    exit 0
fi

say "running; Ctrl-C stops everything"
# A replica may be stopped on purpose (to see the balancer skip it): the demo goes on while one
# replica runs; any other process exiting stops everything.
replicas_left=${#REPLICA_PORTS[@]}
waiting=("${pids[@]}")
while true; do
    status=0
    wait -n -p exited "${waiting[@]}" || status=$?
    for i in "${!pids[@]}"; do
        [[ ${pids[i]} == "${exited:-}" ]] && break
    done
    if [[ ${names[i]} == broker:* ]] && ((--replicas_left > 0)); then
        say "${names[i]} exited (status $status); the balancer sends everything to the other replica"
        waiting=("${waiting[@]/$exited/}")
        read -ra waiting <<<"${waiting[*]}"
        continue
    fi
    say "${names[i]} exited (status $status); stopping the rest"
    exit "$status"
done
