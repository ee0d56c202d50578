#!/usr/bin/env bash
# The fleet's certificates, made with openssl on an offline machine at headquarters:
# one CA; the broker's server certificate; one client certificate per booth (CN = its
# station id: the broker's use_identity_as_username makes that the MQTT username the
# ACL matches); one for headquarters' hq tool; and the revocation list for lost booths.
#
#   PKI=/root/enroll-pki fleet-pki.sh init                 the CA (ca.crt, ca.key) and an empty crl.pem
#   PKI=/root/enroll-pki fleet-pki.sh server broker.example.vn   (or an IP address)
#   PKI=/root/enroll-pki fleet-pki.sh booth VN-HN-BD-0001  out/VN-HN-BD-0001.crt + .key
#   PKI=/root/enroll-pki fleet-pki.sh hq hq                out/hq.crt + .key (CN=hq, the ACL's "user hq")
#   PKI=/root/enroll-pki fleet-pki.sh revoke VN-HN-BD-0001 revokes its current certificate, rewrites crl.pem
#   PKI=/root/enroll-pki fleet-pki.sh crl                  rewrites crl.pem (do it before it expires)
#
# Lifetimes (days): CA 3650, server 397, booth and hq 730, CRL 30; override with
# CA_DAYS, SERVER_DAYS, CLIENT_DAYS, CRL_DAYS. Running a name again issues a new
# certificate with a new key: that is the renewal.
set -euo pipefail
PKI=${PKI:-/root/enroll-pki}
CA_DAYS=${CA_DAYS:-3650} SERVER_DAYS=${SERVER_DAYS:-397} CLIENT_DAYS=${CLIENT_DAYS:-730} CRL_DAYS=${CRL_DAYS:-30}
umask 077
cmd=${1:-}; name=${2:-}

ca() { openssl ca -batch -config "$PKI/ca.cnf" "$@"; }

issue() { # issue NAME CN EXTENSIONS DAYS
  mkdir -p "$PKI/out"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$PKI/out/$1.key" -out "$PKI/out/$1.csr" -subj "/CN=$2"
  printf '%s\n' "$3" > "$PKI/out/$1.ext"
  ca -in "$PKI/out/$1.csr" -out "$PKI/out/$1.crt" -days "$4" -notext -extfile "$PKI/out/$1.ext"
  echo "$PKI/out/$1.crt and $PKI/out/$1.key (CN=$2, $4 days)"
}

case "$cmd" in
  init)
    [ -e "$PKI/ca.key" ] && { echo "error: $PKI/ca.key exists; the CA is made once" >&2; exit 1; }
    mkdir -p "$PKI/db/new"; touch "$PKI/db/index.txt"; echo 1000 > "$PKI/db/crlnumber"
    cat > "$PKI/ca.cnf" <<CNF
[ca]
default_ca = fleet
[fleet]
dir = $PKI/db
database = \$dir/index.txt
new_certs_dir = \$dir/new
crlnumber = \$dir/crlnumber
certificate = $PKI/ca.crt
private_key = $PKI/ca.key
rand_serial = yes
default_md = sha256
default_crl_days = $CRL_DAYS
policy = cn_only
unique_subject = no
copy_extensions = none
[cn_only]
commonName = supplied
CNF
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$CA_DAYS" \
      -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=Enrollment fleet CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    ca -gencrl -out "$PKI/crl.pem"
    echo "CA: $PKI/ca.crt (give to the broker, headquarters and every booth); keep $PKI/ca.key offline" ;;
  server)
    [ -n "$name" ] || { echo "usage: fleet-pki.sh server HOSTNAME|IP" >&2; exit 2; }
    if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then san="IP:$name"; else san="DNS:$name"; fi
    issue server "$name" "subjectAltName=$san
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature" "$SERVER_DAYS" ;;
  booth|hq)
    [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || { echo "usage: fleet-pki.sh $cmd NAME (a station id: letters, digits, . _ -)" >&2; exit 2; }
    issue "$name" "$name" "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature" "$CLIENT_DAYS" ;;
  revoke)
    [ -f "$PKI/out/$name.crt" ] || { echo "error: no certificate $PKI/out/$name.crt" >&2; exit 1; }
    ca -revoke "$PKI/out/$name.crt" -crl_reason keyCompromise
    ca -gencrl -out "$PKI/crl.pem"
    echo "revoked $name; copy $PKI/crl.pem to the broker and restart it" ;;
  crl)
    ca -gencrl -out "$PKI/crl.pem"; echo "$PKI/crl.pem rewritten (valid $CRL_DAYS days)" ;;
  *)
    echo "usage: PKI=DIR fleet-pki.sh init | server HOST | booth STATION-ID | hq NAME | revoke NAME | crl" >&2; exit 2 ;;
esac
