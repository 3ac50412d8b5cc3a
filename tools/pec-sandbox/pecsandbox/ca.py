"""The sandbox PKI, generated with python3-cryptography.

Hierarchy (mirroring the real one, Actalis root -> AgID CA1 -> provider):

* ``root-ca.pem``        "Sandbox PEC Root CA" - the one certificate clients
  must trust, both for TLS and for receipt signatures;
* ``intermediate.pem``   "Sandbox AgID CA1" - stands in for AgID CA1:
  pathlen 0, and (like the real one) name constraints that only permit
  e-mail addresses in the provider domain;
* ``tls.pem``/``tls.key`` the TLS server certificate for ``localhost``,
  ``127.0.0.1`` and ``::1``, issued by the root;
* ``signer.pem``/``signer.key`` the receipts-signing certificate, issued by
  the intermediate: subjectAltName ``posta-certificata@<domain>``, critical
  KeyUsage digitalSignature, EKU emailProtection, SKI/AKI and no
  BasicConstraints, like the providers' certificates.

For negative tests, :func:`ensure_untrusted` creates (lazily) a look-alike
signer issued by "Untrusted PEC Root CA", which no client trusts.

An existing PKI in the directory is reused when it still fits the domain,
so clients that trusted the root keep working after a restart.
"""

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_CN = "Sandbox PEC Root CA"
INTERMEDIATE_CN = "Sandbox AgID CA1"
UNTRUSTED_CN = "Untrusted PEC Root CA"


class Pki:
    """Paths and loaded objects of the sandbox PKI."""

    def __init__(self, directory):
        self.directory = directory
        self.root_cert = os.path.join(directory, "root-ca.pem")
        self.root_key = os.path.join(directory, "root-ca.key")
        self.intermediate_cert = os.path.join(directory, "intermediate.pem")
        self.intermediate_key = os.path.join(directory, "intermediate.key")
        self.tls_cert = os.path.join(directory, "tls.pem")
        self.tls_key = os.path.join(directory, "tls.key")
        self.signer_cert = os.path.join(directory, "signer.pem")
        self.signer_key = os.path.join(directory, "signer.key")
        self.untrusted_root_cert = os.path.join(directory, "untrusted-root.pem")
        self.untrusted_signer_cert = os.path.join(directory, "untrusted-signer.pem")
        self.untrusted_signer_key = os.path.join(directory, "untrusted-signer.key")

    def load_signer(self):
        """Return (signer cert, signer key, [intermediate cert])."""
        return (_load_cert(self.signer_cert), _load_key(self.signer_key),
                [_load_cert(self.intermediate_cert)])

    def load_untrusted_signer(self):
        """Return (cert, key, chain) of the look-alike untrusted signer."""
        return (_load_cert(self.untrusted_signer_cert),
                _load_key(self.untrusted_signer_key),
                [_load_cert(self.untrusted_root_cert)])


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _name(cn, org, unit=None):
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(path, key):
    data = key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(path + ".tmp", path)


def _write_cert(path, cert):
    with open(path + ".tmp", "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)


def _load_cert(path):
    with open(path, "rb") as fh:
        return x509.load_pem_x509_certificate(fh.read())


def _load_key(path):
    with open(path, "rb") as fh:
        return serialization.load_pem_private_key(fh.read(), password=None)


def _ski(key):
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def _aki(issuer_key):
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())


def _builder(subject, issuer, public_key, days):
    start = _now() - datetime.timedelta(days=1)
    return (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days)))


def _make_root(cn, org):
    key = _rsa()
    name = _name(cn, org)
    cert = (_builder(name, name, key.public_key(), 3650)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(_ski(key), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _make_intermediate(root_cert, root_key, domain):
    key = _rsa()
    name = _name(INTERMEDIATE_CN, "Sandbox Agenzia per l'Italia Digitale",
                 "Area Soluzioni per la Pubblica Amministrazione (sandbox)")
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.RFC822Name(domain)], excluded_subtrees=None)
    cert = (_builder(name, root_cert.subject, key.public_key(), 3650)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(constraints, critical=True)
            .add_extension(_ski(key), critical=False)
            .add_extension(_aki(root_key), critical=False)
            .sign(root_key, hashes.SHA256()))
    return cert, key


def _make_signer(issuer_cert, issuer_key, domain, provider_name):
    """A provider signing certificate in the profile of RFC 6109 sec. 5.5."""
    key = _rsa()
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, provider_name),
        x509.NameAttribute(NameOID.COMMON_NAME, "Posta Certificata %s" % provider_name),
    ])
    cert = (_builder(subject, issuer_cert.subject, key.public_key(), 3 * 365)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(
                [x509.RFC822Name("posta-certificata@%s" % domain)]), critical=False)
            .add_extension(_ski(key), critical=False)
            .add_extension(_aki(issuer_key), critical=False)
            .sign(issuer_key, hashes.SHA256()))
    return cert, key


def _make_tls(root_cert, root_key):
    import ipaddress
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name("localhost", "pec-sandbox")
    cert = (_builder(subject, root_cert.subject, key.public_key(), 825)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
            .add_extension(_ski(key), critical=False)
            .add_extension(_aki(root_key), critical=False)
            .sign(root_key, hashes.SHA256()))
    return cert, key


def _signer_fits(pki, domain, provider_name):
    """True when the stored signer still matches *domain* and *provider_name*."""
    try:
        cert = _load_cert(pki.signer_cert)
        inter = _load_cert(pki.intermediate_cert)
        _load_key(pki.signer_key)
        _load_cert(pki.root_cert)
        _load_key(pki.root_key)
        _load_cert(pki.tls_cert)
    except (OSError, ValueError):
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    emails = san.get_values_for_type(x509.RFC822Name)
    org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    nc = inter.extensions.get_extension_for_class(x509.NameConstraints).value
    permitted = [n.value for n in (nc.permitted_subtrees or [])]
    not_after = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return (emails == ["posta-certificata@%s" % domain] and permitted == [domain]
            and org and org[0].value == provider_name
            and not_after > _now() + datetime.timedelta(days=7))


def ensure_pki(directory, domain, provider_name):
    """Create (or reuse) the sandbox PKI in *directory*; return a :class:`Pki`."""
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    pki = Pki(directory)
    if _signer_fits(pki, domain, provider_name):
        return pki
    root_cert, root_key = _make_root(ROOT_CN, "pec-sandbox")
    inter_cert, inter_key = _make_intermediate(root_cert, root_key, domain)
    signer_cert, signer_key = _make_signer(inter_cert, inter_key, domain, provider_name)
    tls_cert, tls_key = _make_tls(root_cert, root_key)
    _write_key(pki.root_key, root_key)
    _write_key(pki.intermediate_key, inter_key)
    _write_key(pki.signer_key, signer_key)
    _write_key(pki.tls_key, tls_key)
    _write_cert(pki.root_cert, root_cert)
    _write_cert(pki.intermediate_cert, inter_cert)
    _write_cert(pki.signer_cert, signer_cert)
    _write_cert(pki.tls_cert, tls_cert)
    for path in (pki.untrusted_root_cert, pki.untrusted_signer_cert, pki.untrusted_signer_key):
        if os.path.exists(path):
            os.unlink(path)
    return pki


def ensure_untrusted(pki, domain, provider_name):
    """Create the look-alike untrusted signer on first use."""
    if os.path.exists(pki.untrusted_signer_key):
        return
    root_cert, root_key = _make_root(UNTRUSTED_CN, "not a PEC authority")
    signer_cert, signer_key = _make_signer(root_cert, root_key, domain, provider_name)
    _write_cert(pki.untrusted_root_cert, root_cert)
    _write_cert(pki.untrusted_signer_cert, signer_cert)
    _write_key(pki.untrusted_signer_key, signer_key)
