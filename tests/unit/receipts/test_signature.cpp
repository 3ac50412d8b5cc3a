// The OpenSSL verifier: exact signed bytes, line ends, trust anchors,
// signer identity, statuses.

#include <pecbatch/receipts/message.hpp>
#include <pecbatch/receipts/signature.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace pecbatch::receipts {
namespace {

const char* k_aruba_2018 =
    "receipts/OCA__l10n-italy/ACCETTAZIONE_ IT03339130126_00009.xml.txt";
const char* k_aruba_2014 = "receipts/OCA__l10n-italy/message2_accettazione";
const char* k_actalis_root = "/etc/ssl/certs/Actalis_Authentication_Root_CA.pem";

std::string sample(const char* relative) {
  return test::slurp(test::data_path(relative));
}

std::string replace_once(std::string text, const std::string& from,
                         const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "not found: " << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string lf_to_crlf(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

std::string crlf_to_lf(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      out += text[i];
    }
  }
  return out;
}

class SignatureTest : public test::TempDirTest {
protected:
  SignatureReport verify(const std::string& raw, const TrustOptions& trust = {}) {
    auto verifier = make_openssl_verifier(trust);
    EXPECT_TRUE(verifier.ok()) << verifier.error().message;
    auto parsed = parse_message(raw);
    EXPECT_TRUE(parsed.ok()) << parsed.error().message;
    return verifier.value()->verify(parsed.value());
  }
};

TEST_F(SignatureTest, LfStoredReceiptVerifiesOnlyAfterCanonicalisation) {
  const auto raw = sample(k_aruba_2018);
  auto message = parse_message(raw).value_or_throw();
  ASSERT_TRUE(message.bare_lf);
  const auto verifier = make_openssl_verifier({}).value_or_throw();

  const auto report = verifier->verify(message);
  EXPECT_EQ(report.status, SignatureStatus::valid) << report.reason;
  EXPECT_TRUE(report.canonicalised);

  // The bytes as stored (bare LF) are not what the provider signed.
  message.bare_lf = false;
  const auto as_stored = verifier->verify(message);
  EXPECT_EQ(as_stored.status, SignatureStatus::invalid);
  EXPECT_NE(as_stored.reason.find("digest mismatch"), std::string::npos)
      << as_stored.reason;
}

TEST_F(SignatureTest, CrlfAndLfCopiesOfTheSameReceiptBothVerify) {
  const auto crlf_2018 = verify(lf_to_crlf(sample(k_aruba_2018)));
  EXPECT_EQ(crlf_2018.status, SignatureStatus::valid) << crlf_2018.reason;
  EXPECT_FALSE(crlf_2018.canonicalised);

  const auto crlf_2014 = verify(sample(k_aruba_2014)); // stored with CRLF
  EXPECT_EQ(crlf_2014.status, SignatureStatus::valid) << crlf_2014.reason;
  EXPECT_FALSE(crlf_2014.canonicalised);

  const auto lf_2014 = verify(crlf_to_lf(sample(k_aruba_2014)));
  EXPECT_EQ(lf_2014.status, SignatureStatus::valid) << lf_2014.reason;
  EXPECT_TRUE(lf_2014.canonicalised);
}

TEST_F(SignatureTest, SignedContentIsTheFirstPartExactlyAsTransmitted) {
  const auto raw = sample(k_aruba_2014);
  const auto message = parse_message(raw).value_or_throw();
  ASSERT_TRUE(message.signed_entity && message.signed_entity->content);
  const auto content = message.signed_content();
  EXPECT_TRUE(content.starts_with("MIME-Version: 1.0\r\nContent-Type: multipart/mixed;"))
      << content.substr(0, 60);
  const auto& range = *message.signed_entity->content;
  // Just before: the first delimiter line; just after: CRLF + the next one.
  const auto before = std::string_view(raw).substr(0, range.offset);
  EXPECT_TRUE(before.ends_with("\r\n")) << before.substr(before.size() - 60);
  const auto after = std::string_view(raw).substr(range.offset + range.size, 42);
  EXPECT_EQ(after, "\r\n------0E32ED7BC110EE1F6074D6F7771A6303\r\n");
  EXPECT_FALSE(content.ends_with("\r\n\r\n"));
  EXPECT_EQ(message.signed_entity->protocol, "application/x-pkcs7-signature");
}

TEST_F(SignatureTest, ChangingOneSignedByteGivesDigestMismatch) {
  // "Il giorno 13/11/2018 alle ore 16:39:26" in the signed text part.
  const auto raw =
      replace_once(sample(k_aruba_2018), "alle ore 16:39:26 (+0100) il messaggio con",
                   "alle ore 16:39:25 (+0100) il messaggio con");
  const auto report = verify(raw);
  EXPECT_EQ(report.status, SignatureStatus::invalid);
  EXPECT_NE(report.reason.find("digest mismatch"), std::string::npos) << report.reason;
  // The signer is still reported.
  EXPECT_EQ(report.signer_email, "posta-certificata@pec.aruba.it");
}

TEST_F(SignatureTest, FromMustBeTheSignerAddress) {
  const auto original = sample(k_aruba_2018);
  const auto spoofed =
      verify(replace_once(original, "From: posta-certificata@pec.aruba.it",
                          "From: posta-certificata@pec.example.it"));
  EXPECT_EQ(spoofed.status, SignatureStatus::invalid);
  EXPECT_NE(spoofed.reason.find("not for the From address"), std::string::npos)
      << spoofed.reason;

  const auto other_case =
      verify(replace_once(original, "From: posta-certificata@pec.aruba.it",
                          "From: Posta-Certificata@PEC.Aruba.it"));
  EXPECT_EQ(other_case.status, SignatureStatus::valid) << other_case.reason;
}

TEST_F(SignatureTest, TopLevelHeadersAreOutsideTheSignature) {
  const auto raw = replace_once(sample(k_aruba_2018), "X-Ricevuta: accettazione",
                                "X-Ricevuta: avvenuta-consegna");
  const auto message = parse_message(raw).value_or_throw();
  EXPECT_EQ(message.kind, Kind::accettazione); // the signed daticert wins
  ASSERT_EQ(message.warnings.size(), 1u);
  EXPECT_NE(message.warnings[0].find("disagrees with daticert tipo"), std::string::npos);
  const auto report = make_openssl_verifier({}).value_or_throw()->verify(message);
  EXPECT_EQ(report.status, SignatureStatus::valid) << report.reason;
}

TEST_F(SignatureTest, IntactReceiptWithoutAnchorsIsUntrusted) {
  TrustOptions nothing;
  nothing.use_system_store = false;
  const auto report = verify(sample(k_aruba_2018), nothing);
  EXPECT_EQ(report.status, SignatureStatus::untrusted);
  EXPECT_NE(report.reason.find("unable to get local issuer certificate"),
            std::string::npos)
      << report.reason;
  EXPECT_EQ(report.signer_email, "posta-certificata@pec.aruba.it");
}

TEST_F(SignatureTest, ExtraAnchorsAreTrusted) {
  if (!std::filesystem::exists(k_actalis_root)) {
    GTEST_SKIP() << k_actalis_root << " not installed";
  }
  TrustOptions only_actalis;
  only_actalis.use_system_store = false;
  only_actalis.ca_files = {k_actalis_root};
  EXPECT_EQ(verify(sample(k_aruba_2018), only_actalis).status, SignatureStatus::valid);
  // The 2014 chain ends at Baltimore CyberTrust Root, not Actalis.
  EXPECT_EQ(verify(sample(k_aruba_2014), only_actalis).status,
            SignatureStatus::untrusted);
}

TEST_F(SignatureTest, ChainIsCheckedAtTheSigningTime) {
  // The 2018 signer certificate expired in December 2020: the receipt is
  // valid because the chain is validated when it was signed.
  const auto report = verify(sample(k_aruba_2018));
  EXPECT_EQ(report.status, SignatureStatus::valid) << report.reason;
  EXPECT_EQ(report.signing_time, "2018-11-13T15:39:26Z");
  EXPECT_EQ(report.verified_at, report.signing_time);
}

TEST_F(SignatureTest, UnreadableSignaturePartIsUnsigned) {
  auto raw = sample(k_aruba_2018);
  const auto at =
      raw.find("MIIaWAYJKoZIhvcNAQcCoIIaSTCCGkUCAQExCzAJBgUrDgMCGgUAMAsGCSqGSIb3");
  ASSERT_NE(at, std::string::npos);
  raw.replace(at, 64, "MII...njA==");
  const auto report = verify(raw);
  EXPECT_EQ(report.status, SignatureStatus::not_signed);
  EXPECT_NE(report.reason.find("not a readable CMS"), std::string::npos) << report.reason;
  EXPECT_STREQ(to_string(report.status), "unsigned");
}

TEST_F(SignatureTest, PlainMessageIsUnsigned) {
  const auto report = verify("From: a@b.it\r\nX-Ricevuta: accettazione\r\n\r\nhello\r\n");
  EXPECT_EQ(report.status, SignatureStatus::not_signed);
  EXPECT_EQ(report.reason, "not multipart/signed");
  EXPECT_FALSE(report.signer_email);
}

TEST_F(SignatureTest, MissingCaFileIsNoInput) {
  TrustOptions trust;
  trust.ca_files = {dir() / "absent.pem"};
  const auto verifier = make_openssl_verifier(trust);
  ASSERT_FALSE(verifier.ok());
  EXPECT_EQ(verifier.error().kind, core::ErrorKind::no_input);
}

TEST_F(SignatureTest, CaFileWithoutCertificatesIsAConfigError) {
  TrustOptions trust;
  trust.ca_files = {write("empty.pem", "not a certificate\n")};
  const auto verifier = make_openssl_verifier(trust);
  ASSERT_FALSE(verifier.ok());
  EXPECT_EQ(verifier.error().kind, core::ErrorKind::config);
  EXPECT_NE(verifier.error().message.find("empty.pem"), std::string::npos);
}

TEST(SignatureStatusNames, AreTheDocumentedOnes) {
  EXPECT_STREQ(to_string(SignatureStatus::valid), "valid");
  EXPECT_STREQ(to_string(SignatureStatus::invalid), "invalid");
  EXPECT_STREQ(to_string(SignatureStatus::untrusted), "untrusted");
  EXPECT_STREQ(to_string(SignatureStatus::not_signed), "unsigned");
}

} // namespace
} // namespace pecbatch::receipts
