#!/usr/bin/env python3
"""Verify an EU-DCC HC1 certificate without vaxdesk's code: Base45 (base45),
zlib, COSE_Sign1 and CWT (cbor2), ES256 against the signer's X.509
certificate (cryptography). Usage: hc1_verify.py HC1_FILE SIGNER_CERT_BASE64.
Prints the kid, the verdict and the DCC payload; exits 0 only when the
signature is valid and the kid is the certificate's."""

import base64
import hashlib
import json
import sys
import zlib

import base45
import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding


def main(hc1_path, cert_b64):
    text = open(hc1_path, encoding="ascii").read().strip()
    if not text.startswith("HC1:"):
        print("not an HC1 text")
        return 1
    cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    try:
        cose = cbor2.loads(zlib.decompress(base45.b45decode(text[4:])))
    except Exception as e:  # damaged Base45, zlib or CBOR: not a certificate
        print("undecodable:", e)
        return 1
    if isinstance(cose, cbor2.CBORTag):
        if cose.tag != 18:
            print("not COSE_Sign1, tag", cose.tag)
            return 1
        cose = cose.value
    protected, unprotected, payload, signature = cose
    header = cbor2.loads(protected) if protected else {}
    kid = header.get(4) or unprotected.get(4)
    if header.get(1) != -7:
        print("algorithm is not ES256:", header.get(1))
        return 1
    expected_kid = hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()[:8]
    print("kid:", kid.hex(), "(the certificate's)" if kid == expected_kid else "(NOT the certificate's)")
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        cert.public_key().verify(encode_dss_signature(r, s), to_be_signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        print("signature: INVALID")
        return 1
    print("signature: valid")
    claims = cbor2.loads(payload)
    print("issuer:", claims.get(1), "issued:", claims.get(6), "expires:", claims.get(4))
    print(json.dumps(claims[-260][1], ensure_ascii=False, indent=1))
    return 0 if kid == expected_kid else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
