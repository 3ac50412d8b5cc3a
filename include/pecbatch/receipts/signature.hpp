#pragma once

#include <pecbatch/core/result.hpp>
#include <pecbatch/receipts/message.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pecbatch::receipts {

// Outcome of verifying a receipt's S/MIME signature.
enum class SignatureStatus {
  valid,      // content intact, chain reaches a trust anchor, SAN = From
  invalid,    // digest mismatch, bad signature, or signer SAN != From
  untrusted,  // content intact, but the chain does not verify to an anchor
  not_signed, // no multipart/signed, or no (or an unreadable) signature part
};

// "valid", "invalid", "untrusted", "unsigned".
const char* to_string(SignatureStatus status);

// What verification found. The signer facts are filled whenever the
// signature could be read, whatever the status.
struct SignatureReport {
  SignatureStatus status = SignatureStatus::not_signed;
  // Why the status is not `valid` (one line); empty when valid.
  std::string reason;
  // The signer certificate's subjectAltName e-mail matching From (else its
  // first one, else the subject emailAddress).
  std::optional<std::string> signer_email;
  // The signer certificate's issuer DN on one line, RFC 2253 escaping, in
  // certificate order: "C=IT, O=Agenzia per l'Italia Digitale, ..., CN=AgID CA1".
  std::optional<std::string> issuer;
  // The CMS signingTime attribute, ISO 8601 UTC ("2018-11-13T15:39:26Z").
  std::optional<std::string> signing_time;
  // The time the chain was validated at (signingTime, else the Date header,
  // else now), ISO 8601 UTC.
  std::optional<std::string> verified_at;
  // True when the signed bytes were converted from bare LF to CRLF first.
  bool canonicalised = false;
};

// Verifies the signature of a parsed message. An interface so that the
// campaign pipeline can be tested with a fake.
class SignatureVerifier {
public:
  virtual ~SignatureVerifier() = default;
  // Never fails: every problem is a status with a reason.
  virtual SignatureReport verify(const ParsedMessage& message) const = 0;
};

// The Debian/Ubuntu system CA bundle.
inline constexpr const char* k_system_ca_bundle = "/etc/ssl/certs/ca-certificates.crt";

// Which certificates are trust anchors.
struct TrustOptions {
  // Trust the system bundle (skipped silently when the file is missing).
  bool use_system_store = true;
  std::filesystem::path system_bundle = k_system_ca_bundle;
  // Extra anchors (PEM files, one or more certificates each), e.g. the
  // sandbox CA.
  std::vector<std::filesystem::path> ca_files;
};

// The OpenSSL verifier (CMS detached signature, chain at signing time with
// purpose smimesign, SHA-1 accepted, SAN = From; see docs/receipts.md). It
// uses its own OpenSSL library context, so a system crypto policy that bans
// SHA-1 signatures does not apply to this evidence-checking path. Fails with
// kind `no_input` when a CA file does not exist, `config` when it holds no
// certificate.
core::Result<std::unique_ptr<SignatureVerifier>>
make_openssl_verifier(const TrustOptions& options);

} // namespace pecbatch::receipts
