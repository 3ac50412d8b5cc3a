"""Detached CMS signing and ``multipart/signed`` wrapping.

Signatures are made with python3-cryptography's ``PKCS7SignatureBuilder``
(detached, binary mode, so the exact CRLF bytes of the first part are what
gets signed).  OpenSSL adds the same signed attributes real PEC signatures
carry: contentType, signingTime, messageDigest and smimeCapabilities.  The
intermediate certificate is embedded next to the signer, like the
providers' ``smime.p7s`` (signer + AgID CA1, no root).
"""

import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from . import mimeutil

PREAMBLE = b"This is an S/MIME signed message" + mimeutil.CRLF + mimeutil.CRLF

_HASHES = {"sha256": (hashes.SHA256, "sha-256"), "sha1": (hashes.SHA1, "sha1")}


class Signer:
    """Signs MIME entities with one certificate/key and its chain."""

    def __init__(self, cert, key, chain, digest="sha256"):
        if digest not in _HASHES:
            raise ValueError("unsupported digest %r" % digest)
        self.cert = cert
        self.key = key
        self.chain = list(chain)
        self.hash_cls, self.micalg = _HASHES[digest]
        self._lock = threading.Lock()

    def sign(self, content):
        """Return the DER detached CMS SignedData over *content* (bytes)."""
        builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(
            self.cert, self.key, self.hash_cls())
        for extra in self.chain:
            builder = builder.add_certificate(extra)
        options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
        with self._lock:
            return builder.sign(serialization.Encoding.DER, options)

    def content_type(self, boundary):
        return ('multipart/signed; protocol="application/x-pkcs7-signature"; '
                'micalg="%s"; boundary="%s"' % (self.micalg, boundary))

    def wrap(self, headers, signed_entity, tamper=None):
        """Build a complete signed message.

        *headers* are the top-level headers (without MIME-Version and
        Content-Type, which are added here); *signed_entity* the exact bytes
        of the first part.  When *tamper* is given it is called with the
        entity bytes after signing and must return altered bytes: the
        signature then no longer matches (used for negative tests).
        """
        signature = self.sign(signed_entity)
        if tamper is not None:
            signed_entity = tamper(signed_entity)
        boundary = mimeutil.outer_boundary()
        sig_part = mimeutil.entity([
            ("Content-Type", 'application/x-pkcs7-signature; name="smime.p7s"'),
            ("Content-Transfer-Encoding", "base64"),
            ("Content-Disposition", 'attachment; filename="smime.p7s"'),
        ], mimeutil.base64_body(signature, 64))
        body = mimeutil.multipart_body(boundary, [signed_entity, sig_part], PREAMBLE)
        top = list(headers) + [("MIME-Version", "1.0"),
                               ("Content-Type", self.content_type(boundary))]
        return mimeutil.header_lines(top) + mimeutil.CRLF + body


def unsigned(headers, entity_bytes):
    """A message with the receipt's headers but the first part as its body.

    *entity_bytes* is a serialised MIME entity (its own headers, including
    MIME-Version and Content-Type, come first), so its Content-Type becomes
    the message's.
    """
    return mimeutil.header_lines(list(headers)) + entity_bytes
