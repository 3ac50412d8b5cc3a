// parse_message() and classify_headers() on small synthetic messages.

#include <pecbatch/core/strings.hpp>
#include <pecbatch/receipts/message.hpp>

#include <gtest/gtest.h>

#include <string>

namespace pecbatch::receipts {
namespace {

std::string daticert(const std::string& tipo,
                     const std::string& msgid = "orig.1@pec.test") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<postacert tipo=\"" + tipo +
         "\" errore=\"nessuno\"><intestazione><mittente>m@pec.test</mittente>"
         "<destinatari tipo=\"certificato\">d@pec.test</destinatari>"
         "<risposte>m@pec.test</risposte><oggetto>prova</oggetto></intestazione>"
         "<dati><gestore-emittente>Test</gestore-emittente><data zona=\"+0100\">"
         "<giorno>22/11/2026</giorno><ora>12:00:00</ora></data>"
         "<identificativo>opec.1@pec.test</identificativo><msgid>&lt;" +
         msgid + "&gt;</msgid></dati></postacert>\n";
}

// A multipart/mixed message with the given headers and (content type,
// filename, body) parts.
struct Part {
  std::string type;
  std::string filename;
  std::string body;
};

std::string mixed(const std::string& headers, const std::vector<Part>& parts) {
  std::string out = headers + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
                              "boundary=\"XX\"\r\n\r\n";
  for (const auto& p : parts) {
    out += "--XX\r\nContent-Type: " + p.type + "\r\n";
    if (!p.filename.empty()) {
      out += "Content-Disposition: inline; filename=\"" + p.filename + "\"\r\n";
    }
    out += "\r\n" + p.body + "\r\n";
  }
  return out + "--XX--\r\n";
}

ParsedMessage parse(const std::string& raw) {
  auto parsed = parse_message(raw);
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return parsed.ok() ? std::move(parsed).value() : ParsedMessage{};
}

bool has_warning(const ParsedMessage& m, const std::string& text) {
  for (const auto& w : m.warnings) {
    if (w.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

const std::string k_text = "Content-Type: text/plain\r\n";

TEST(Classify, UsesTopLevelHeadersWhateverTheirCase) {
  EXPECT_EQ(parse("x-ricevuta: Accettazione\r\n" + k_text + "\r\nx\r\n").message_class,
            MessageClass::receipt);
  EXPECT_EQ(
      parse("X-TRASPORTO: Posta-Certificata\r\n" + k_text + "\r\nx\r\n").message_class,
      MessageClass::envelope);
  EXPECT_EQ(parse("X-Trasporto: errore\r\n" + k_text + "\r\nx\r\n").message_class,
            MessageClass::anomaly);
  EXPECT_EQ(parse("From: a@b.it\r\n" + k_text + "\r\nx\r\n").message_class,
            MessageClass::other);
}

TEST(Classify, NeverFromTheSubject) {
  const auto m =
      parse("Subject: ACCETTAZIONE: prova\r\nFrom: posta-certificata@pec.test\r\n" +
            k_text + "\r\nx\r\n");
  EXPECT_EQ(m.message_class, MessageClass::other);
  EXPECT_FALSE(m.kind);
}

TEST(Classify, HeaderValues) {
  auto c = classify_headers("avvenuta-consegna", std::nullopt);
  EXPECT_EQ(c.message_class, MessageClass::receipt);
  EXPECT_EQ(c.header_kind, Kind::avvenuta_consegna);
  EXPECT_TRUE(c.warnings.empty());

  c = classify_headers("consegnata", std::nullopt);
  EXPECT_EQ(c.message_class, MessageClass::receipt);
  EXPECT_FALSE(c.header_kind);
  EXPECT_EQ(c.warnings.size(), 1u);

  c = classify_headers("accettazione", "posta-certificata");
  EXPECT_EQ(c.message_class, MessageClass::receipt);
  EXPECT_EQ(c.warnings.size(), 1u);

  c = classify_headers(std::nullopt, " posta-certificata ");
  EXPECT_EQ(c.message_class, MessageClass::envelope);
  EXPECT_EQ(c.header_kind, Kind::posta_certificata);

  c = classify_headers(std::nullopt, "errore");
  EXPECT_EQ(c.message_class, MessageClass::anomaly);
  EXPECT_FALSE(c.header_kind);

  c = classify_headers(std::nullopt, "boh");
  EXPECT_EQ(c.message_class, MessageClass::other);
  EXPECT_EQ(c.warnings.size(), 1u);

  c = classify_headers(std::nullopt, std::nullopt);
  EXPECT_EQ(c.message_class, MessageClass::other);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(Classify, KindNamesRoundTrip) {
  for (const auto kind :
       {Kind::accettazione, Kind::non_accettazione, Kind::presa_in_carico,
        Kind::avvenuta_consegna, Kind::errore_consegna, Kind::preavviso_errore_consegna,
        Kind::rilevazione_virus, Kind::posta_certificata}) {
    EXPECT_EQ(parse_kind(to_string(kind)), kind);
  }
  EXPECT_STREQ(to_string(Kind::preavviso_errore_consegna), "preavviso-errore-consegna");
  EXPECT_FALSE(parse_kind("mancata-consegna"));
  EXPECT_STREQ(to_string(MessageClass::anomaly), "anomaly");
}

TEST(ParseMessage, ReadsDaticertAndHeaders) {
  const auto m =
      parse(mixed("X-Ricevuta: accettazione\r\nX-Riferimento-Message-ID: "
                  "<orig.1@pec.test>\r\nX-Tiporicevuta: breve\r\n"
                  "From: \"Gestore\" <posta-certificata@pec.test>\r\n"
                  "Date: Sun, 22 Nov 2026 12:00:00 +0100\r\n"
                  "Message-ID: <opec.2@pec.test>\r\n",
                  {{"text/plain", "", "testo"},
                   {"application/xml", "daticert.xml", daticert("accettazione")}}));
  EXPECT_TRUE(m.warnings.empty()) << ::testing::PrintToString(m.warnings);
  EXPECT_EQ(m.kind, Kind::accettazione);
  EXPECT_EQ(m.msgid, "orig.1@pec.test");
  ASSERT_TRUE(m.daticert);
  EXPECT_EQ(m.daticert->source, "daticert.xml");
  EXPECT_EQ(m.daticert->time, "2026-11-22T12:00:00+01:00");
  EXPECT_EQ(m.headers.x_riferimento_message_id, "orig.1@pec.test");
  EXPECT_EQ(m.headers.x_tipo_ricevuta, "breve");
  EXPECT_EQ(m.headers.from_address, "posta-certificata@pec.test");
  EXPECT_EQ(m.headers.message_id, "opec.2@pec.test");
  EXPECT_EQ(m.headers.date_unix, 1795345200);
  EXPECT_FALSE(m.signed_entity);
  EXPECT_FALSE(m.bare_lf);
}

TEST(ParseMessage, AcceptsCertdataXmlAndLastResortXml) {
  const std::string headers = "X-Ricevuta: accettazione\r\n";
  const auto certdata = parse(
      mixed(headers, {{"application/xml", "certdata.xml", daticert("accettazione")}}));
  ASSERT_TRUE(certdata.daticert);
  EXPECT_EQ(certdata.daticert->source, "certdata.xml");
  EXPECT_TRUE(certdata.warnings.empty()) << ::testing::PrintToString(certdata.warnings);

  const auto other_name = parse(mixed(
      headers, {{"application/xml", "fattura.xml", "<FatturaElettronica/>"},
                {"application/xml; name=\"dati.xml\"", "", daticert("accettazione")}}));
  ASSERT_TRUE(other_name.daticert);
  EXPECT_EQ(other_name.daticert->source, "dati.xml");
  EXPECT_TRUE(has_warning(other_name, "not named daticert.xml"));

  const auto none = parse(mixed(headers, {{"application/xml", "fattura.xml", "<a/>"}}));
  EXPECT_FALSE(none.daticert);
  EXPECT_TRUE(has_warning(none, "no daticert.xml"));
}

TEST(ParseMessage, NeverReadsTheDaticertOfAnAttachedMessage) {
  // An anomaly envelope wrapping a forged receipt that has its own daticert.
  const auto forged =
      mixed("X-Ricevuta: avvenuta-consegna\r\n",
            {{"application/xml", "daticert.xml", daticert("avvenuta-consegna")}});
  const auto m = parse(
      mixed("X-Trasporto: errore\r\n", {{"text/plain", "", "anomalia"},
                                        {"message/rfc822", "postacert.eml", forged}}));
  EXPECT_EQ(m.message_class, MessageClass::anomaly);
  EXPECT_FALSE(m.daticert);
  EXPECT_FALSE(m.kind);
  EXPECT_FALSE(m.msgid);
  EXPECT_TRUE(m.warnings.empty()) << ::testing::PrintToString(m.warnings);
}

TEST(ParseMessage, DaticertWinsOverHeadersWithWarnings) {
  const auto m =
      parse(mixed("X-Ricevuta: avvenuta-consegna\r\n"
                  "X-Riferimento-Message-ID: <other@pec.test>\r\n",
                  {{"application/xml", "daticert.xml", daticert("errore-consegna")}}));
  EXPECT_EQ(m.kind, Kind::errore_consegna);
  EXPECT_EQ(m.msgid, "orig.1@pec.test");
  EXPECT_TRUE(has_warning(m,
                          "X-Ricevuta \"avvenuta-consegna\" disagrees with daticert tipo "
                          "\"errore-consegna\""));
  EXPECT_TRUE(has_warning(m, "X-Riferimento-Message-ID \"other@pec.test\" disagrees"));

  const auto envelope =
      parse(mixed("X-Trasporto: posta-certificata\r\n",
                  {{"application/xml", "daticert.xml", daticert("accettazione")}}));
  EXPECT_EQ(envelope.kind, Kind::accettazione);
  EXPECT_TRUE(has_warning(envelope, "transport envelope whose daticert tipo"));
}

TEST(ParseMessage, MsgidFallsBackToTheHeaderWithAWarning) {
  const auto m = parse("X-Ricevuta: non-accettazione\r\nX-Riferimento-Message-ID: "
                       "<id.7@pec.test>\r\n" +
                       k_text + "\r\nno daticert\r\n");
  EXPECT_EQ(m.kind, Kind::non_accettazione);
  EXPECT_EQ(m.msgid, "id.7@pec.test");
  EXPECT_FALSE(m.daticert);
  EXPECT_TRUE(has_warning(m, "no daticert.xml"));
  EXPECT_TRUE(has_warning(m, "msgid taken from the X-Riferimento-Message-ID header"));
}

TEST(ParseMessage, BrokenDaticertIsAWarning) {
  const auto m = parse(mixed("X-Ricevuta: accettazione\r\n",
                             {{"application/xml", "daticert.xml", "<postacert><dati>"}}));
  EXPECT_FALSE(m.daticert);
  EXPECT_EQ(m.kind, Kind::accettazione);
  EXPECT_TRUE(has_warning(m, "not well-formed"));
}

TEST(ParseMessage, RepeatedDaticertUsesTheFirst) {
  const auto m = parse(
      mixed("X-Ricevuta: accettazione\r\n",
            {{"application/xml", "daticert.xml", daticert("accettazione", "a@x")},
             {"application/xml", "daticert.xml", daticert("accettazione", "b@x")}}));
  EXPECT_EQ(m.msgid, "a@x");
  EXPECT_TRUE(has_warning(m, "2 parts named daticert.xml"));
}

TEST(ParseMessage, FindsTheSignedPartAndSignature) {
  const std::string inner =
      "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n"
      "--in\r\nContent-Type: application/xml; name=\"daticert.xml\"\r\n\r\n" +
      daticert("accettazione") + "\r\n--in--";
  const std::string raw =
      "X-Ricevuta: accettazione\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; "
      "protocol=\"application/pkcs7-signature\"; micalg=SHA-256; boundary=\"out\"\r\n\r\n"
      "This is an S/MIME signed message\r\n\r\n--out\r\n" +
      inner +
      "\r\n\r\n--out\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nAQID\r\n--out--\r\n";
  const auto m = parse(raw);
  ASSERT_TRUE(m.signed_entity);
  EXPECT_EQ(m.signed_entity->protocol, "application/pkcs7-signature");
  EXPECT_EQ(m.signed_entity->micalg, "sha-256");
  EXPECT_EQ(m.signed_content(), inner + "\r\n");
  EXPECT_EQ(m.signed_entity->signature, std::string("\x01\x02\x03"));
  EXPECT_TRUE(m.signed_entity->problem.empty());
  ASSERT_TRUE(m.daticert);
  EXPECT_EQ(m.kind, Kind::accettazione);
}

TEST(ParseMessage, NonSmimeSignatureIsAProblem) {
  const std::string raw =
      "X-Ricevuta: accettazione\r\nContent-Type: multipart/signed; "
      "protocol=\"application/pgp-signature\"; boundary=\"out\"\r\n\r\n--out\r\n" +
      k_text +
      "\r\nx\r\n--out\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n"
      "--out--\r\n";
  const auto m = parse(raw);
  ASSERT_TRUE(m.signed_entity);
  EXPECT_FALSE(m.signed_entity->signature);
  EXPECT_NE(m.signed_entity->problem.find("not S/MIME"), std::string::npos);
}

TEST(ParseMessage, RejectsWhatIsNotAMailMessage) {
  for (const std::string& raw :
       {std::string(), std::string("just some text\n"),
        std::string("\x89PNG\r\n\x1a\n", 8), std::string("\n\nA: b\n")}) {
    const auto parsed = parse_message(raw);
    ASSERT_FALSE(parsed.ok()) << core::quote(raw);
    EXPECT_EQ(parsed.error().kind, core::ErrorKind::input);
  }
}

TEST(ParseMessage, KeepsBareLfAndTheRawBytes) {
  const std::string raw = "X-Ricevuta: accettazione\nContent-Type: text/plain\n\nx\n";
  const auto m = parse(raw);
  EXPECT_TRUE(m.bare_lf);
  EXPECT_EQ(m.raw, raw);
}

} // namespace
} // namespace pecbatch::receipts
