#!/usr/bin/env bash
# `make demo`: the broker on http://127.0.0.1:8000 (config/development.yaml, data in var/), the
# demo portal on http://127.0.0.1:8001, the mock organisation OIDC IdP (the five organisations of
# idp_configs/ on OIDC) on http://127.0.0.1:8002, the mock Suomi.fi on http://127.0.0.1:8003 and
# the mock organisation SAML IdPs (OYS, TYKS, Soite) on http://127.0.0.1:8004, and the mail sink
# (SMTP 127.0.0.1:8025, which config/development.yaml sends the broker's e-mail codes to; its
# messages on http://127.0.0.1:8006). Ctrl-C stops everything.
#
#   DEMO_NO_WAIT=1   start, wait for /healthz, print the instructions, stop and exit (a smoke test)
#   DEMO_CONFIG=...  another settings file (default config/development.yaml)
#   SOTE_BROKER__PORT=8010 SOTE_BROKER__ISSUER=http://127.0.0.1:8010   settings overrides; the
#                    printed URLs follow the broker's effective settings
#
# Every process is started with `start NAME COMMAND...` and stopped by the one cleanup trap.
set -euo pipefail

cd "$(dirname "$0")/.."

CONFIG=${DEMO_CONFIG:-config/development.yaml}
VENV=${VENV:-.venv}
PY=$VENV/bin/python
BROKER=("$VENV/bin/sote-broker" --config "$CONFIG")
STARTUP_SECONDS=${DEMO_STARTUP_SECONDS:-20}
STOP_SECONDS=10

PORTAL=http://127.0.0.1:8001
MOCK_IDP=http://127.0.0.1:8002
ORG_SAML_IDP=http://127.0.0.1:8004
MAIL_SINK=http://127.0.0.1:8006
MAIL_SINK_SMTP_PORT=8025
# The mock IdP's client secret for the broker (mock_idps/test_users.yaml); not a secret anywhere.
# Only the organisations on OIDC have one; OYS, TYKS and Soite are on SAML.
MOCK_IDP_SECRET=mock-idp-secret-for-development-only
for org in HUS PSHVA PIRHA LSHP PAJJATHA; do
    export "SOTE_BROKER_IDP_${org}_SECRET=$MOCK_IDP_SECRET"
done
CLIENT_ID=demo-portal
# A fixed, clearly named secret, so the instructions below stay valid between runs.
CLIENT_SECRET=demo-portal-secret-for-development-only-0001

# shellcheck source=scripts/demo-lib.sh
source scripts/demo-lib.sh

if [[ ! -x $VENV/bin/sote-broker ]]; then
    say "$VENV/bin/sote-broker is missing; run make install (or make demo)"
    exit 1
fi

# 1. Settings, store and keys (creates var/, the database and the signing keys on a first run).
"${BROKER[@]}" check-config

# The effective settings, environment overrides included.
read -r ISSUER HOST PORT < <("$PY" -c '
import sys
from pathlib import Path
from broker.settings import load_settings
s = load_settings(Path(sys.argv[1]))
print(s.issuer, s.host, s.port)
' "$CONFIG")
case $HOST in
    0.0.0.0 | "") LOCAL_HOST=127.0.0.1 ;;
    :: | "[::]") LOCAL_HOST="[::1]" ;;
    *) LOCAL_HOST=$HOST ;;
esac
if [[ $ISSUER != "http://$LOCAL_HOST:$PORT" && $ISSUER != "https://$LOCAL_HOST:$PORT" ]]; then
    say "note: the issuer is $ISSUER but the broker listens on $HOST:$PORT;"
    say "      set SOTE_BROKER__ISSUER too unless a proxy serves the issuer URL"
fi
if port_busy "${LOCAL_HOST//[\[\]]/}" "$PORT"; then
    say "port $PORT is already in use (another broker?); stop it, or choose another port:"
    say "  SOTE_BROKER__PORT=$((PORT + 10)) SOTE_BROKER__ISSUER=http://127.0.0.1:$((PORT + 10)) make demo"
    exit 1
fi

# 2. The demo portal as a client ("add" replaces an existing one, so this is idempotent).
printf '%s\n' "$CLIENT_SECRET" | "${BROKER[@]}" clients add \
    --client-id "$CLIENT_ID" \
    --name "Demo portal" \
    --redirect-uri "$PORTAL/callback" \
    --post-logout-redirect-uri "$PORTAL/" \
    --backchannel-logout-uri "$PORTAL/backchannel-logout" \
    --auth-method client_secret_basic \
    --scope openid --scope profile --scope email --scope phone --scope professional \
    --secret-stdin

# 3. The processes, each started with `start` and stopped by the one cleanup trap.
for busy in 8001 8002 8003 8004 8006 "$MAIL_SINK_SMTP_PORT"; do
    if port_busy 127.0.0.1 "$busy"; then
        say "port $busy (demo portal 8001, mock IdPs 8002-8004, mail sink 8006 and" \
            "$MAIL_SINK_SMTP_PORT) is already in use; stop it first"
        exit 1
    fi
done
# The mail sink first: the broker sends its e-mail codes to it.
start mail-sink "$PY" -m mock_idps.mail_sink --host 127.0.0.1 \
    --smtp-port "$MAIL_SINK_SMTP_PORT" --http-port 8006
wait_until_up mail-sink "${pids[-1]}" "$MAIL_SINK/healthz"
start mock-idp "$PY" -m mock_idps.oidc_idp --host 127.0.0.1 --port 8002 \
    --redirect-uri "$ISSUER/upstream/oidc/callback/{org}" --key-dir var/mock-idp-keys
wait_until_up mock-idp "${pids[-1]}" "$MOCK_IDP/hus/.well-known/openid-configuration"
start broker "${BROKER[@]}" serve
wait_until_up broker "${pids[-1]}" "http://$LOCAL_HOST:$PORT/healthz"
# The SAML mocks read the broker's SAML SP metadata once at start, so they start after it.
start suomifi-idp "$PY" -m mock_idps.suomifi_idp --host 127.0.0.1 --port 8003 \
    --sp-metadata "$ISSUER/saml/metadata" --key-dir var/suomifi-mock-keys
wait_until_up suomifi-idp "${pids[-1]}" "http://127.0.0.1:8003/metadata"
start org-saml-idp "$PY" -m mock_idps.org_saml_idp --host 127.0.0.1 --port 8004 \
    --sp-metadata "$ISSUER/saml/metadata" --key-dir var/org-saml-mock-keys
wait_until_up org-saml-idp "${pids[-1]}" "$ORG_SAML_IDP/oys/metadata"
start portal env DEMO_PORTAL_CLIENT_SECRET="$CLIENT_SECRET" \
    "$PY" -m mock_idps.demo_portal --issuer "$ISSUER" --client-id "$CLIENT_ID" \
    --host 127.0.0.1 --port 8001 --public-url "$PORTAL"
wait_until_up portal "${pids[-1]}" "$PORTAL/healthz"

# 4. What to try.
cat <<EOF

  sote-broker demo is up (development mode: plain http, mock IdPs)

  Open the demo portal:   $PORTAL/
  and choose "Kirjaudu palveluun". At the broker choose "Olen ammattilainen",
  "Organisaatiotunnistautuminen", a group and an organisation, and log in at the mock IdP, e.g.
  at HUS as maija.meikalainen / testi1234 (OIDC) or at OYS as sanna.makela / testi1234 (SAML);
  every organisation's test users are listed on its login page, in mock_idps/test_users.yaml
  (OIDC) and mock_idps/org_saml_users.yaml (SAML). The portal then asks for its own one-time
  profile and shows the claims it received. For personal identification choose
  "Ammattilaiskäyttäjät ja yhteistyökumppanit": the mock Suomi.fi lets you pick the method
  (certificate card, mobile certificate, online bank) and a test person.
  "Kirjaudu ulos" logs out at the broker too (RP-initiated logout); logging out elsewhere ends
  the portal session (back-channel logout).

  Broker          $ISSUER/.well-known/openid-configuration
  Signing keys    $ISSUER/jwks
  Portal client   client_id $CLIENT_ID, client_secret $CLIENT_SECRET (client_secret_basic)
  Mock OIDC IdP   $MOCK_IDP/hus/.well-known/openid-configuration (and /pshva, /pirha, …)
  Mock Suomi.fi   http://127.0.0.1:8003/metadata; the broker's SP metadata: $ISSUER/saml/metadata
  Mock SAML orgs  $ORG_SAML_IDP/ (OYS, TYKS, Soite; metadata at /oys/metadata, …)
  Mail sink       $MAIL_SINK/ (the broker's e-mail codes; SMTP 127.0.0.1:$MAIL_SINK_SMTP_PORT)

EOF

if [[ ${DEMO_NO_WAIT:-} == 1 ]]; then
    say "DEMO_NO_WAIT=1: everything answered; stopping"
    exit 0
fi

say "running; Ctrl-C stops everything"
status=0
wait -n -p exited "${pids[@]}" || status=$?
for i in "${!pids[@]}"; do
    if [[ ${pids[i]} == "${exited:-}" ]]; then
        say "${names[i]} exited (status $status); stopping the rest"
    fi
done
exit "$status"
