// Every real sample of tests/data/receipts: exact facts and signature status.
// See tests/data/receipts/README.md for where each file comes from.

#include "support/temp_dir.hpp"

#include <pecbatch/receipts/message.hpp>
#include <pecbatch/receipts/signature.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace pecbatch::receipts {
namespace {

using std::nullopt;

struct Expected {
  const char* file;
  MessageClass message_class;
  std::optional<Kind> kind;
  std::optional<std::string> msgid;
  std::optional<std::string> identificativo;
  std::optional<std::string> consegna;
  std::optional<std::string> errore;
  std::optional<std::string> time;
  SignatureStatus status;
  std::optional<std::string> signer_email;
  std::optional<std::string> signing_time;
  // Substrings that must each appear in one warning; no other warnings.
  std::vector<std::string> warnings;
};

const std::string k_aruba = "posta-certificata@pec.aruba.it";
const std::string k_sogei = "posta-certificata@pcert.sogei.it";
const std::string k_oca_2018_msgid =
    "1542123565.921546936035156.464602125997431-openerp-8-fatturapa.attachment.out@"
    "elbati-Vostro-3550";
const std::string k_oca_2014_msgid =
    "1415985992.182905912399292.346704098667155-openerp-private@elbati-Vostro-3550";
const std::string k_fake_msgid = "SN05IE$951DEC16C1CFD3E4FD8FF1B1D24A99AE@fakepec.it";
const std::string k_fake_id = "opec210312.20241115182038.288127.606.1.53@fakepec.it";
const std::string k_anon_id = "CZPXCJRZKQDRVYXFAZYUIAWNACDAAHEVAEXAKN@example.com";
const std::string k_php_msgid =
    "222222222222222222222.JavaMail.root@drlinux0c.pec.example.server.com";
const std::string k_digest = "digest mismatch";

const std::vector<Expected>& expectations() {
  static const std::vector<Expected> k_all = {
      // Aruba 2018, AgID CA1 <- Actalis Authentication Root CA, SHA-1, LF-stored.
      {"OCA__l10n-italy/ACCETTAZIONE_ IT03339130126_00009.xml.txt", MessageClass::receipt,
       Kind::accettazione, k_oca_2018_msgid,
       "opec288.20181113163926.01838.310.1.63@pec.aruba.it", nullopt, "nessuno",
       "2018-11-13T16:39:26+01:00", SignatureStatus::valid, k_aruba,
       "2018-11-13T15:39:26Z", {}},
      {"OCA__l10n-italy/CONSEGNA_ IT03339130126_00009.xml.txt", MessageClass::receipt,
       Kind::avvenuta_consegna, k_oca_2018_msgid,
       "opec288.20181113163926.01838.310.1.63@pec.aruba.it", "l.battistini@pec.it",
       "nessuno", "2018-11-13T16:39:27+01:00", SignatureStatus::valid, k_aruba,
       "2018-11-13T15:39:27Z", {}},
      // Aruba 2014, DigitPA CA1 <- Baltimore CyberTrust Root; CRLF-stored.
      {"OCA__l10n-italy/message2_accettazione", MessageClass::receipt, Kind::accettazione,
       k_oca_2014_msgid, "opec275.20141114182632.23219.07.1.48@pec.aruba.it", nullopt,
       "nessuno", "2014-11-14T18:26:32+01:00", SignatureStatus::valid, k_aruba,
       "2014-11-14T17:26:32Z", {}},
      {"OCA__l10n-italy/message2_consegna", MessageClass::receipt, Kind::avvenuta_consegna,
       k_oca_2014_msgid, "opec275.20141114182632.23219.07.1.48@pec.aruba.it",
       "thinkstudio@pec.it", "nessuno", "2014-11-14T18:26:32+01:00",
       SignatureStatus::valid, k_aruba, "2014-11-14T17:26:32Z", {}},
      // Aruba 2014 transport envelopes (message2 has no X-TipoRicevuta).
      {"OCA__l10n-italy/message1", MessageClass::envelope, Kind::posta_certificata,
       "NEOEQO$8B558E13C0664DE7004C1EFB790D1A09@pec.it",
       "opec275.20141107165200.03048.08.1.17@pec.aruba.it", nullopt, "nessuno",
       "2014-11-07T16:52:00+01:00", SignatureStatus::valid, k_aruba,
       "2014-11-07T15:52:01Z", {}},
      {"OCA__l10n-italy/message2", MessageClass::envelope, Kind::posta_certificata,
       "1417097534.920250892639160.712427135196036-openerp-private@master",
       "opec275.20141127151216.06559.08.1.17@pec.aruba.it", nullopt, "nessuno",
       "2014-11-27T15:12:16+01:00", SignatureStatus::valid, k_aruba,
       "2014-11-27T14:12:16Z", {}},
      // Sogei envelopes edited by the fixture authors: digest mismatch.
      {"OCA__l10n-italy/POSTA CERTIFICATA_ Invio File 7339338.txt", MessageClass::envelope,
       Kind::posta_certificata, "4163125586355393.1544268377979@pec.fatturapa.it",
       "opec288.20181208122618.17535.2665.1.3@pcert.sogei.it", nullopt, "nessuno",
       "2018-12-08T12:26:18+01:00", SignatureStatus::invalid, k_sogei,
       "2018-12-08T11:26:18Z", {}},
      {"OCA__l10n-italy/POSTA CERTIFICATA_ Invio File 7339338 (broken XML).txt",
       MessageClass::envelope, Kind::posta_certificata,
       "4163125586355393.1544268377979@pec.fatturapa.it",
       "opec288.20181208122618.17535.2665.1.3@pcert.sogei.it", nullopt, "nessuno",
       "2018-12-08T12:26:18+01:00", SignatureStatus::invalid, k_sogei,
       "2018-12-08T11:26:18Z", {}},
      {"OCA__l10n-italy/POSTA CERTIFICATA_ Invio File 7339338 (base64).txt",
       MessageClass::envelope, Kind::posta_certificata,
       "4163125586355393.1544268377979@pec.fatturapa.it",
       "opec288.20181208122618.17535.2665.1.3@pcert.sogei.it", nullopt, "nessuno",
       "2018-12-08T12:26:18+01:00", SignatureStatus::invalid, k_sogei,
       "2018-12-08T11:26:18Z", {}},
      // An SdI "Ricevuta di consegna" in the subject: still an envelope.
      {"OCA__l10n-italy/POSTA CERTIFICATA_ Ricevuta di consegna 6782414.txt",
       MessageClass::envelope, Kind::posta_certificata,
       "5168561142842364.1542124052746@pec.fatturapa.it",
       "opec288.20181113164732.05177.8374.1.1@pcert.sogei.it", nullopt, "nessuno",
       "2018-11-13T16:47:32+01:00", SignatureStatus::invalid, k_sogei,
       "2018-11-13T15:47:33Z", {}},
      // Its daticert.xml was deleted: msgid only from the header.
      {"OCA__l10n-italy/POSTA CERTIFICATA_mancata_consegna.txt", MessageClass::envelope,
       Kind::posta_certificata, "29868973923542086.1546634040973@pec.fatturapa.it", nullopt,
       nullopt, nullopt, nullopt, SignatureStatus::invalid, k_sogei,
       "2019-01-04T20:34:01Z",
       {"no daticert.xml in the signed part", "msgid taken from the X-Riferimento"}},
      // Anonymised, truncated before the signature part.
      {"biagioT__java-pec-parser/accettazione.eml", MessageClass::receipt,
       Kind::accettazione, k_fake_msgid, k_fake_id, nullopt, "nessuno",
       "2024-11-15T18:20:38+01:00", SignatureStatus::not_signed, nullopt, nullopt, {}},
      {"biagioT__java-pec-parser/consegna.eml", MessageClass::receipt,
       Kind::errore_consegna, k_fake_msgid, k_fake_id, "rec@fakepec.it", "no-dest",
       "2024-11-15T18:21:03+01:00", SignatureStatus::not_signed, nullopt, nullopt,
       {"stray text \"a\" in <intestazione>",
        "X-Riferimento-Message-ID \"SN05IE$951DEC16C1CFD3E4FD8FF1B1D24A99AE@pec.it\" "
        "disagrees",
        "consegna \"rec@fakepec.it\" is not among the destinatari"}},
      // The same two, with a placeholder p7s.
      {"danzipie__go-pec/accettazione.eml", MessageClass::receipt, Kind::accettazione,
       k_fake_msgid, k_fake_id, nullopt, "nessuno", "2024-11-15T18:20:38+01:00",
       SignatureStatus::not_signed, nullopt, nullopt, {}},
      {"danzipie__go-pec/consegna.eml", MessageClass::receipt, Kind::errore_consegna,
       k_fake_msgid, k_fake_id, "rec@fakepec.it", "no-dest", "2024-11-15T18:21:03+01:00",
       SignatureStatus::not_signed, nullopt, nullopt,
       {"stray text", "disagrees with daticert msgid", "is not among the destinatari"}},
      // Anonymised 2021 receipts (sha-256 micalg), broken p7s.
      {"danzipie__go-pec/email_2.eml", MessageClass::receipt, Kind::avvenuta_consegna,
       k_anon_id, k_anon_id, "example.example.com", "nessuno", "2021-05-13T14:35:30+02:00",
       SignatureStatus::not_signed, nullopt, nullopt, {}},
      {"danzipie__go-pec/email_3.eml", MessageClass::envelope, Kind::posta_certificata,
       k_anon_id, k_anon_id, nullopt, "nessuno", "2021-05-14T12:02:08+02:00",
       SignatureStatus::not_signed, nullopt, nullopt,
       {"X-Riferimento-Message-ID \"CZPXCJRZKQDRVYXFAZYUIAWNACDAEXAKN@example.com\" "
        "disagrees"}},
      // Inner originals (postacert.eml): ordinary mail.
      {"peppelauro__php-pec/postacert_standard_html.eml", MessageClass::other, nullopt,
       k_php_msgid, nullopt, nullopt, nullopt, nullopt, SignatureStatus::not_signed, nullopt,
       nullopt, {}},
      {"peppelauro__php-pec/postacert_standard_newline.eml", MessageClass::other, nullopt,
       k_php_msgid, nullopt, nullopt, nullopt, nullopt, SignatureStatus::not_signed, nullopt,
       nullopt, {}},
      {"peppelauro__php-pec/postacert_standard_plain.eml", MessageClass::other, nullopt,
       k_php_msgid, nullopt, nullopt, nullopt, nullopt, SignatureStatus::not_signed, nullopt,
       nullopt, {}},
      {"peppelauro__php-pec/postacert_standard_plain_and_html.eml", MessageClass::other,
       nullopt, k_php_msgid, nullopt, nullopt, nullopt, nullopt, SignatureStatus::not_signed,
       nullopt, nullopt, {}},
  };
  return k_all;
}

class SampleTest : public ::testing::TestWithParam<Expected> {
protected:
  static void SetUpTestSuite() {
    s_verifier = make_openssl_verifier(TrustOptions{}).value_or_throw().release();
  }
  static void TearDownTestSuite() {
    delete s_verifier;
    s_verifier = nullptr;
  }
  static SignatureVerifier* s_verifier;
};

SignatureVerifier* SampleTest::s_verifier = nullptr;

std::string test_name(const ::testing::TestParamInfo<Expected>& info) {
  std::string name;
  for (const char* p = info.param.file; *p != '\0'; ++p) {
    const char c = *p;
    name += ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                ? c
                : '_';
  }
  return name;
}

TEST_P(SampleTest, HasTheExpectedFactsAndSignature) {
  const auto& e = GetParam();
  const auto raw = test::slurp(test::data_path(std::string("receipts/") + e.file));
  ASSERT_FALSE(raw.empty());
  auto parsed = parse_message(raw);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const auto& m = parsed.value();
  EXPECT_EQ(m.raw, raw) << "the raw bytes must be kept as they are";

  EXPECT_EQ(m.message_class, e.message_class);
  EXPECT_EQ(m.kind, e.kind);
  EXPECT_EQ(m.msgid, e.msgid);
  const Daticert none;
  const auto& dc = m.daticert ? *m.daticert : none;
  EXPECT_EQ(dc.identificativo, e.identificativo);
  EXPECT_EQ(dc.consegna, e.consegna);
  EXPECT_EQ(dc.errore, e.errore);
  EXPECT_EQ(dc.time, e.time);
  EXPECT_EQ(m.daticert.has_value(), e.identificativo.has_value());

  const auto report = s_verifier->verify(m);
  EXPECT_EQ(report.status, e.status) << to_string(report.status) << ": " << report.reason;
  EXPECT_EQ(report.signer_email, e.signer_email);
  EXPECT_EQ(report.signing_time, e.signing_time);
  if (e.status == SignatureStatus::invalid) {
    EXPECT_NE(report.reason.find(k_digest), std::string::npos) << report.reason;
  }
  if (e.status == SignatureStatus::valid) {
    EXPECT_TRUE(report.reason.empty()) << report.reason;
  }

  for (const auto& wanted : e.warnings) {
    bool found = false;
    for (const auto& w : m.warnings) {
      found = found || w.find(wanted) != std::string::npos;
    }
    EXPECT_TRUE(found) << "no warning containing: " << wanted;
  }
  EXPECT_EQ(m.warnings.size(), e.warnings.size()) << ::testing::PrintToString(m.warnings);
}

INSTANTIATE_TEST_SUITE_P(Receipts, SampleTest, ::testing::ValuesIn(expectations()),
                         test_name);

TEST(SampleFacts, ArubaConsegnaHasEveryDaticertFact) {
  const auto raw = test::slurp(
      test::data_path("receipts/OCA__l10n-italy/CONSEGNA_ IT03339130126_00009.xml.txt"));
  const auto m = parse_message(raw).value_or_throw();
  ASSERT_TRUE(m.daticert);
  const auto& dc = *m.daticert;
  EXPECT_EQ(dc.source, "daticert.xml");
  EXPECT_EQ(dc.tipo, "avvenuta-consegna");
  EXPECT_EQ(dc.mittente, "l.battistini@pec.it");
  ASSERT_EQ(dc.destinatari.size(), 1u);
  EXPECT_EQ(dc.destinatari[0].address, "l.battistini@pec.it");
  EXPECT_EQ(dc.destinatari[0].tipo, "certificato");
  EXPECT_EQ(dc.risposte, "l.battistini@pec.it");
  EXPECT_EQ(dc.oggetto, "IT03339130126_00009.xml");
  EXPECT_EQ(dc.gestore_emittente, "ARUBA PEC S.p.A.");
  EXPECT_EQ(dc.ricevuta, "completa");
  EXPECT_FALSE(dc.errore_esteso);
  EXPECT_TRUE(dc.ricezione.empty());
  EXPECT_EQ(m.headers.x_ricevuta, "avvenuta-consegna");
  EXPECT_EQ(m.headers.from_address, "posta-certificata@pec.aruba.it");
  EXPECT_EQ(m.headers.x_riferimento_message_id, k_oca_2018_msgid);
  EXPECT_EQ(m.headers.message_id, "opec288.20181113163927.28978.421.1.413.72@pec.aruba.it");
  ASSERT_TRUE(m.signed_entity);
  EXPECT_EQ(m.signed_entity->protocol, "application/x-pkcs7-signature");
  EXPECT_EQ(m.signed_entity->micalg, "sha1");
  EXPECT_TRUE(m.bare_lf);
}

TEST(SampleFacts, BiagioErroreConsegnaKeepsTheErroreEsteso) {
  const auto raw = test::slurp(test::data_path("receipts/biagioT__java-pec-parser/consegna.eml"));
  const auto m = parse_message(raw).value_or_throw();
  ASSERT_TRUE(m.daticert);
  EXPECT_EQ(m.daticert->errore_esteso, "5.1.1 - FAKE Pec S.p.A. - indirizzo non valido");
  ASSERT_EQ(m.daticert->destinatari.size(), 1u);
  EXPECT_EQ(m.daticert->destinatari[0].address, "rec@pec.it");
  // The header claims another id; the signed daticert wins.
  EXPECT_EQ(m.headers.x_riferimento_message_id,
            "SN05IE$951DEC16C1CFD3E4FD8FF1B1D24A99AE@pec.it");
}

TEST(SampleFacts, SignerIssuersAreTheTwoAgencyIntermediates) {
  const auto verifier = make_openssl_verifier(TrustOptions{}).value_or_throw();
  const auto agid = verifier->verify(
      parse_message(test::slurp(test::data_path(
                        "receipts/OCA__l10n-italy/ACCETTAZIONE_ IT03339130126_00009.xml.txt")))
          .value_or_throw());
  EXPECT_EQ(agid.issuer, "C=IT, L=Roma, O=Agenzia per l'Italia Digitale, OU=Area Soluzioni "
                         "per la Pubblica Amministrazione, CN=AgID CA1");
  const auto digitpa = verifier->verify(
      parse_message(test::slurp(test::data_path("receipts/OCA__l10n-italy/message1")))
          .value_or_throw());
  EXPECT_EQ(digitpa.issuer,
            "C=IT, O=DigitPA, OU=Ufficio interoperabilita' e cooperazione, CN=DigitPA CA1");
}

} // namespace
} // namespace pecbatch::receipts
