#!/usr/bin/env bash
# Creates the certificates of the local control plane in DIR: a CA, the apiserver's
# serving certificate, client certificates for admin, controller-manager and scheduler,
# and the service-account signing key pair. Throwaway keys for a loopback-only cluster.
# `pki.sh DIR client NAME SUBJECT` issues one more client certificate from the CA in DIR
# (the real node's kubelet and kube-proxy).
set -euo pipefail

dir="$1"
mkdir -p "$dir"
cd "$dir"

quiet() { "$@" >/dev/null 2>&1 || { echo "pki: failed: $*" >&2; "$@"; }; }

# Issues a certificate signed by the CA. Args: name subject [subjectAltName]
issue() {
	local name="$1" subject="$2" san="${3:-}"
	quiet openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subject"
	local ext="$name.ext"
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		if [[ -n "$san" ]]; then
			echo "extendedKeyUsage=serverAuth"
			echo "subjectAltName=$san"
		else
			echo "extendedKeyUsage=clientAuth"
		fi
	} >"$ext"
	quiet openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
		-days 30 -out "$name.crt" -extfile "$ext"
	rm -f "$name.csr" "$ext"
}

if [[ "${2:-}" == client ]]; then
	issue "$3" "$4"
	chmod 600 "$3.key"
	exit 0
fi

quiet openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
	-keyout ca.key -out ca.crt -subj "/CN=tidewatch-local-ca"

issue apiserver "/CN=kube-apiserver" \
	"IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
issue admin "/O=system:masters/CN=tidewatch-admin"
issue controller-manager "/CN=system:kube-controller-manager"
issue scheduler "/CN=system:kube-scheduler"

quiet openssl genrsa -out service-account.key 2048
quiet openssl rsa -in service-account.key -pubout -out service-account.pub
chmod 600 ./*.key
