// The OpenSSL SignatureVerifier: S/MIME detached CMS signatures of PEC
// receipts and envelopes.
//
// Steps (docs/receipts.md "Verification"):
// 1. the signed bytes are the first part of the top-level multipart/signed
//    exactly as transmitted (ParsedMessage::signed_content()); only when the
//    stored file uses bare LF line ends are they canonicalised to CRLF;
// 2. integrity: CMS_verify with that detached content, without chain
//    building (CMS_NO_SIGNER_CERT_VERIFY), so that a broken digest or
//    signature is told apart from an unknown issuer;
// 3. chain: X509_verify_cert from the signer certificate, with the CMS
//    certificates as untrusted intermediates, to the trust store, purpose
//    smime_sign, at the signing time (CMS signingTime, else Date, else now),
//    security level 0 so that SHA-1 signatures are accepted;
// 4. the signer's subjectAltName e-mail must equal the From address.
//
// Everything runs in an own OSSL_LIB_CTX that loads no configuration file:
// a system crypto policy that bans SHA-1 signatures does not apply here.

#include <pecbatch/core/strings.hpp>
#include <pecbatch/receipts/signature.hpp>

#include "raw_mime.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <system_error>

namespace pecbatch::receipts {

namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct CmsFree {
  void operator()(CMS_ContentInfo* cms) const { CMS_ContentInfo_free(cms); }
};
struct StoreFree {
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* ctx) const { X509_STORE_CTX_free(ctx); }
};
struct LibCtxFree {
  void operator()(OSSL_LIB_CTX* ctx) const { OSSL_LIB_CTX_free(ctx); }
};
struct CertStackFree {
  void operator()(STACK_OF(X509) * certs) const { sk_X509_pop_free(certs, X509_free); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, CmsFree>;
using StorePtr = std::unique_ptr<X509_STORE, StoreFree>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, StoreCtxFree>;
using LibCtxPtr = std::unique_ptr<OSSL_LIB_CTX, LibCtxFree>;
using CertStackPtr = std::unique_ptr<STACK_OF(X509), CertStackFree>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;

std::string iso_utc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::string one_line_dn(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  constexpr unsigned long k_flags = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN |
                                    (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  X509_NAME_print_ex(bio.get(), name, 0, k_flags);
  return bio_text(bio.get());
}

std::string asn1_string(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// The e-mail addresses a certificate is for: its subjectAltName rfc822Names,
// or, when it has none, its subject emailAddress attributes.
std::vector<std::string> certificate_emails(X509* cert) {
  std::vector<std::string> emails;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
      if (name->type == GEN_EMAIL) {
        emails.push_back(asn1_string(name->d.rfc822Name));
      }
    }
  }
  if (emails.empty()) {
    const X509_NAME* subject = X509_get_subject_name(cert);
    for (int i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress, i)) {
      emails.push_back(
          asn1_string(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i))));
    }
  }
  return emails;
}

// The CMS signingTime signed attribute, as seconds since the epoch.
std::optional<std::time_t> signing_time(CMS_SignerInfo* signer_info) {
  const int index = CMS_signed_get_attr_by_NID(signer_info, NID_pkcs9_signingTime, -1);
  if (index < 0) {
    return std::nullopt;
  }
  X509_ATTRIBUTE* attribute = CMS_signed_get_attr(signer_info, index);
  ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attribute, 0);
  if (value == nullptr ||
      (value->type != V_ASN1_UTCTIME && value->type != V_ASN1_GENERALIZEDTIME)) {
    return std::nullopt;
  }
  std::tm tm{};
  if (ASN1_TIME_to_tm(value->value.utctime, &tm) != 1) {
    return std::nullopt;
  }
  return timegm(&tm);
}

// The first queued OpenSSL error as text (the queue is cleared).
std::string openssl_error() {
  const unsigned long code = ERR_peek_error();
  std::string text;
  if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    text = reason != nullptr ? reason : "error " + std::to_string(code);
  }
  ERR_clear_error();
  return text;
}

class OpensslVerifier final : public SignatureVerifier {
public:
  OpensslVerifier(LibCtxPtr libctx, StorePtr store)
      : m_libctx(std::move(libctx)), m_store(std::move(store)) {}

  SignatureReport verify(const ParsedMessage& message) const override;

private:
  // Reads the DER CMS structure in our library context; null on error.
  CmsPtr read_cms(const std::string& der) const;
  // Validates the signer's chain at `at`; returns the problem, empty if ok.
  std::string check_chain(X509* signer, STACK_OF(X509) * intermediates,
                          std::time_t at) const;

  LibCtxPtr m_libctx;
  StorePtr m_store;
};

CmsPtr OpensslVerifier::read_cms(const std::string& der) const {
  BioPtr in(BIO_new_mem_buf(der.data(), static_cast<int>(der.size())));
  CMS_ContentInfo* cms = CMS_ContentInfo_new_ex(m_libctx.get(), nullptr);
  if (cms == nullptr || in == nullptr) {
    CMS_ContentInfo_free(cms);
    return nullptr;
  }
  // d2i into a preallocated object keeps its library context; on failure
  // OpenSSL frees it and resets the pointer.
  if (d2i_CMS_bio(in.get(), &cms) == nullptr) {
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return nullptr;
  }
  return CmsPtr(cms);
}

std::string OpensslVerifier::check_chain(X509* signer, STACK_OF(X509) * intermediates,
                                         std::time_t at) const {
  StoreCtxPtr ctx(X509_STORE_CTX_new_ex(m_libctx.get(), nullptr));
  if (!ctx || X509_STORE_CTX_init(ctx.get(), m_store.get(), signer, intermediates) != 1) {
    return "cannot set up chain verification: " + openssl_error();
  }
  // As CMS_verify does: the smime_sign defaults (purpose and trust).
  X509_STORE_CTX_set_default(ctx.get(), "smime_sign");
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, at);
  // Security level 0: SHA-1 and 1024-bit keys of old provider chains pass.
  X509_VERIFY_PARAM_set_auth_level(param, 0);
  if (X509_verify_cert(ctx.get()) == 1) {
    ERR_clear_error();
    return {};
  }
  const int error = X509_STORE_CTX_get_error(ctx.get());
  const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  ERR_clear_error();
  std::string text = X509_verify_cert_error_string(error);
  if (X509* cert = X509_STORE_CTX_get_current_cert(ctx.get())) {
    text += " (depth " + std::to_string(depth) + ": " +
            one_line_dn(X509_get_subject_name(cert)) + ")";
  }
  return text;
}

SignatureReport OpensslVerifier::verify(const ParsedMessage& message) const {
  SignatureReport report;
  if (!message.signed_entity) {
    report.reason = "not multipart/signed";
    return report;
  }
  const auto& entity = *message.signed_entity;
  if (!entity.content || !entity.signature) {
    report.reason = entity.problem;
    return report;
  }
  CmsPtr cms = read_cms(*entity.signature);
  if (!cms) {
    report.reason = "the signature part is not a readable CMS structure";
    return report;
  }
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    report.reason = "the signature part is not CMS SignedData";
    return report;
  }
  STACK_OF(CMS_SignerInfo)* signer_infos = CMS_get0_SignerInfos(cms.get());
  if (signer_infos == nullptr || sk_CMS_SignerInfo_num(signer_infos) == 0) {
    report.reason = "the signature has no signer";
    return report;
  }

  // From here on the message is signed: any failure is invalid/untrusted.
  report.status = SignatureStatus::invalid;
  const int found = CMS_set1_signers_certs(cms.get(), nullptr, 0);
  ERR_clear_error();
  CMS_SignerInfo* signer_info = sk_CMS_SignerInfo_value(signer_infos, 0);
  X509* signer = nullptr;
  CMS_SignerInfo_get0_algs(signer_info, nullptr, &signer, nullptr, nullptr);
  const auto signed_at = signing_time(signer_info);
  if (signed_at) {
    report.signing_time = iso_utc(*signed_at);
  }
  if (signer == nullptr || found != sk_CMS_SignerInfo_num(signer_infos)) {
    report.reason = "the signer certificate is not in the signature";
    return report;
  }
  report.issuer = one_line_dn(X509_get_issuer_name(signer));
  const auto emails = certificate_emails(signer);
  const auto& from = message.headers.from_address;
  for (const auto& email : emails) {
    if (from && core::iequals_ascii(email, *from)) {
      report.signer_email = email;
    }
  }
  if (!report.signer_email && !emails.empty()) {
    report.signer_email = emails.front();
  }

  // 1. Integrity of the signed bytes (and signature over the attributes).
  std::string canonical;
  std::string_view content = message.signed_content();
  if (message.bare_lf) {
    canonical = detail::canonicalise_crlf(content);
    report.canonicalised = canonical.size() != content.size();
    content = canonical;
  }
  if (CMS_is_detached(cms.get()) != 1) {
    report.reason = "the signature is not detached";
    return report;
  }
  BioPtr data(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  const int intact = CMS_verify(cms.get(), nullptr, nullptr, data.get(), nullptr,
                                CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY);
  const std::string cms_error = openssl_error();
  std::vector<std::string> problems;
  if (intact != 1) {
    bool signature_ok = true;
    for (int i = 0; i < sk_CMS_SignerInfo_num(signer_infos); ++i) {
      CMS_SignerInfo* si = sk_CMS_SignerInfo_value(signer_infos, i);
      if (CMS_signed_get_attr_count(si) >= 0 && CMS_SignerInfo_verify(si) != 1) {
        signature_ok = false;
      }
    }
    ERR_clear_error();
    problems.push_back(signature_ok
                           ? "content digest mismatch: the signed part was changed after "
                             "signing"
                           : "bad signature: " + cms_error);
  }

  // 2. Signer identity: subjectAltName e-mail = From.
  if (!from) {
    problems.emplace_back("no From address to compare with the signer certificate");
  } else if (emails.empty()) {
    problems.emplace_back("the signer certificate names no e-mail address");
  } else if (!report.signer_email || !core::iequals_ascii(*report.signer_email, *from)) {
    problems.push_back("signer certificate is for " + core::quote(emails.front()) +
                       ", not for the From address " + core::quote(*from));
  }

  // 3. Chain to a trust anchor, at the signing time.
  const std::time_t at = signed_at                   ? *signed_at
                         : message.headers.date_unix ? *message.headers.date_unix
                                                     : std::time(nullptr);
  report.verified_at = iso_utc(at);
  CertStackPtr certs(CMS_get1_certs(cms.get()));
  const auto chain_problem = check_chain(signer, certs.get(), at);

  if (!problems.empty()) {
    report.status = SignatureStatus::invalid;
    for (const auto& p : problems) {
      report.reason += (report.reason.empty() ? "" : "; ") + p;
    }
    if (!chain_problem.empty()) {
      report.reason += "; certificate chain: " + chain_problem;
    }
  } else if (!chain_problem.empty()) {
    report.status = SignatureStatus::untrusted;
    report.reason = "certificate chain: " + chain_problem;
  } else {
    report.status = SignatureStatus::valid;
  }
  return report;
}

} // namespace

const char* to_string(SignatureStatus status) {
  switch (status) {
  case SignatureStatus::valid:
    return "valid";
  case SignatureStatus::invalid:
    return "invalid";
  case SignatureStatus::untrusted:
    return "untrusted";
  case SignatureStatus::not_signed:
    return "unsigned";
  }
  return "unsigned";
}

core::Result<std::unique_ptr<SignatureVerifier>>
make_openssl_verifier(const TrustOptions& options) {
  LibCtxPtr libctx(OSSL_LIB_CTX_new());
  StorePtr store(X509_STORE_new());
  if (!libctx || !store) {
    return core::make_error(core::ErrorKind::internal, "OpenSSL: out of memory");
  }
  // Adds every certificate of a PEM file (a certificate already in the
  // store counts: the system bundle and --ca-file may overlap).
  auto load = [&](const std::filesystem::path& path) -> core::Status {
    BioPtr in(BIO_new_file(path.c_str(), "r"));
    STACK_OF(X509_INFO)* infos =
        in ? PEM_X509_INFO_read_bio_ex(in.get(), nullptr, nullptr, nullptr, libctx.get(),
                                       nullptr)
           : nullptr;
    int certificates = 0;
    for (int i = 0; infos != nullptr && i < sk_X509_INFO_num(infos); ++i) {
      X509_INFO* info = sk_X509_INFO_value(infos, i);
      if (info->x509 != nullptr && X509_STORE_add_cert(store.get(), info->x509) == 1) {
        ++certificates;
      }
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    const auto error = openssl_error();
    if (certificates == 0) {
      return core::make_error(core::ErrorKind::config,
                              path.string() + ": no certificate could be loaded" +
                                  (error.empty() ? "" : " (" + error + ")"));
    }
    return core::Ok{};
  };
  std::error_code ec;
  if (options.use_system_store && std::filesystem::exists(options.system_bundle, ec)) {
    PB_TRY(load(options.system_bundle));
  }
  for (const auto& path : options.ca_files) {
    if (!std::filesystem::exists(path, ec)) {
      return core::make_error(core::ErrorKind::no_input,
                              path.string() + ": CA file not found");
    }
    PB_TRY(load(path));
  }
  return std::unique_ptr<SignatureVerifier>(
      std::make_unique<OpensslVerifier>(std::move(libctx), std::move(store)));
}

} // namespace pecbatch::receipts
