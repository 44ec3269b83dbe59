#!/usr/bin/env bash
# ctest deploy_nginx_twilio: deploy/nginx/flowgate.conf in front of the real flowgate, on loopback
# with a throwaway certificate, takes a Twilio webhook signed for the public URL
# (https://sms.example.org:PORT/...), query string and all, and flowgate accepts it: the proxy hands
# the request target over unchanged and public_url rebuilds the URL Twilio signed. A signature over
# the address flowgate itself listens on is refused; plain HTTP is sent on to HTTPS.
# Only the listen addresses, the upstream port and file paths of the shipped file are changed.
# usage: nginx_twilio.sh NGINX_CONF BUILT_BINARY
set -euo pipefail

conf="${1:?usage: nginx_twilio.sh NGINX_CONF BUILT_BINARY}"
bin="${2:?}"

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing: nginx"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nginx
    else
        echo "SKIPPED: nginx is missing (sudo apt-get install -y nginx, or make deps as root)"
        exit 77
    fi
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

tmp="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
chmod 0755 "$tmp"  # nginx's workers run as nobody

fail() {
    echo "FAIL: $*"
    echo "--- flowgate's log"
    cat "$tmp/flowgate.log" 2>/dev/null || true
    echo "--- nginx's error log"
    cat "$tmp/error.log" 2>/dev/null || true
    exit 1
}

# Waits (polling, at most 30 s) until the command succeeds.
wait_for() {
    local i
    for i in $(seq 300); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

port_free() { [ -z "$(ss -Htln "sport = :$1")" ]; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=sms.example.org \
    -addext subjectAltName=DNS:sms.example.org -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

token="twilio-auth-token-0001"
printf '%s\n' "$token" >"$tmp/twilio_token"

for attempt in 1 2 3 4 5; do
    http_port=$((20000 + RANDOM % 11000))
    https_port=$((http_port + 1))
    port_free "$http_port" && port_free "$https_port" && break
done
public="https://sms.example.org:$https_port"

cat >"$tmp/flowgate.json" <<JSON
{
  "server": {"listen": "127.0.0.1:0", "public_url": "$public"},
  "store": {"sqlite": "$tmp/flowgate.db"},
  "data_key": "none",
  "channels": [
    {"id": "sms-jo", "type": "twilio", "address": "+962790000000",
     "account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "file:$tmp/twilio_token",
     "api_base": "http://127.0.0.1:9"}
  ]
}
JSON
"$bin" serve --config "$tmp/flowgate.json" >"$tmp/flowgate.log" 2>&1 &
pids+=($!)
wait_for grep -q 'listening on http://127.0.0.1:' "$tmp/flowgate.log" || fail "flowgate did not start"
flowgate_port="$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$tmp/flowgate.log" | head -n 1)"

# The shipped file with each change checked: when its shape changes, this says so.
substitute() {  # FROM TO
    grep -qF -- "$1" "$tmp/flowgate.conf" || fail "$conf has no '$1'"
    python3 - "$tmp/flowgate.conf" "$1" "$2" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read().replace(old, new)
open(path, "w").write(text)
PY
}
cp "$conf" "$tmp/flowgate.conf"
substitute "listen 80;" "listen 127.0.0.1:$http_port;"
substitute "listen [::]:80;" ""
substitute "listen 443 ssl http2;" "listen 127.0.0.1:$https_port ssl http2;"
substitute "listen [::]:443 ssl http2;" ""
substitute "server 127.0.0.1:8080;" "server 127.0.0.1:$flowgate_port;"
substitute "/etc/letsencrypt/live/sms.example.org/fullchain.pem" "$tmp/cert.pem"
substitute "/etc/letsencrypt/live/sms.example.org/privkey.pem" "$tmp/key.pem"
substitute "/var/log/nginx/" "$tmp/"
cat >"$tmp/nginx.conf" <<NGINX
pid $tmp/nginx.pid;
error_log $tmp/error.log;
worker_processes 1;
events {}
http {
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include $tmp/flowgate.conf;
}
NGINX
"$nginx_bin" -t -q -p "$tmp" -c "$tmp/nginx.conf" || fail "nginx -t refused the config"
"$nginx_bin" -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' &
pids+=($!)

curl_https() {
    curl -sS --cacert "$tmp/cert.pem" --resolve "sms.example.org:$https_port:127.0.0.1" "$@"
}
wait_for curl_https -o /dev/null "$public/healthz" || fail "nginx did not answer on $https_port"

# An inbound SMS as Twilio posts it, signed over URL + each parameter name and value sorted by
# name (docs/providers.md). The console's URL may carry a query string; %2F in it must arrive
# as %2F for the signature to hold.
target="/c/sms-jo/receive?campaign=spring%2F2027"
declare -A params=(
    [MessageSid]=SM0123456789abcdef0123456789abcdef
    [AccountSid]=AC0123456789abcdef0123456789abcdef
    [From]=+962790000001
    [To]=+962790000000
    [Body]="JOIN ورشة 50% & more"
    [NumMedia]=0
)
signature() {  # URL
    local data="$1" key
    for key in $(printf '%s\n' "${!params[@]}" | LC_ALL=C sort); do
        data+="$key${params[$key]}"
    done
    printf '%s' "$data" | openssl dgst -sha1 -hmac "$token" -binary | base64
}
post() {  # SIGNATURE
    local args=() key
    for key in "${!params[@]}"; do
        args+=(--data-urlencode "$key=${params[$key]}")
    done
    curl_https -o /dev/null -w '%{http_code}' -H "X-Twilio-Signature: $1" "${args[@]}" "$public$target"
}

code="$(post "$(signature "$public$target")")"
[ "$code" = 200 ] || fail "a webhook signed for $public$target got $code through the proxy, not 200"
echo "signed for the public URL: 200"

params[MessageSid]=SM0123456789abcdef0123456789abcdee
code="$(post "$(signature "http://127.0.0.1:$flowgate_port$target")")"
[ "$code" = 403 ] || fail "a webhook signed for flowgate's own address got $code, not 403"
echo "signed for the address behind the proxy: 403"

metrics="$(curl_https "$public/metrics")"
grep -q '^flowgate_messages_in_total{channel="sms-jo"} 1$' <<<"$metrics" ||
    fail "flowgate did not count exactly one inbound message: $(printf '%s\n' "$metrics" | grep messages_in)"
echo "stored: 1 inbound message"

code="$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' --resolve "sms.example.org:$http_port:127.0.0.1" \
    "http://sms.example.org:$http_port/")"
case "$code" in
    "301 https://sms.example.org/") echo "plain HTTP: 301 to https" ;;
    *) fail "plain HTTP answered '$code', not a 301 to https" ;;
esac
