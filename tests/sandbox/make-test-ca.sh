#!/usr/bin/env bash
# Make a throwaway test CA and a server certificate for 127.0.0.1 and
# localhost signed by it, so clients of bbsandbox keep TLS verification on.
#
#   tests/sandbox/make-test-ca.sh DIR
#
# Writes DIR/ca.crt (trust this: curl --cacert, CURLOPT_CAINFO), DIR/ca.key,
# DIR/server.crt and DIR/server.key (give these to bbsandbox --tls-cert/--tls-key).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 64
fi
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout ca.key -out ca.crt -days 30 -subj "/CN=bbsandbox test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null

cat > server.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EXT
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -out server.crt -days 30 -extfile server.ext 2>/dev/null
rm -f server.csr server.ext ca.srl
chmod 644 ca.crt server.crt
echo "test CA in $dir: ca.crt (trust), server.crt + server.key (for bbsandbox)"
