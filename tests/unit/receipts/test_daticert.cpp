// daticert.xml: facts, tolerance (warnings), no DTD processing, times.

#include <pecbatch/receipts/daticert.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pecbatch::receipts {
namespace {

const char* k_errore_consegna = R"(<?xml version="1.0" encoding="UTF-8"?>
<postacert tipo="errore-consegna" errore="no-dest">
    <intestazione>
        <mittente>mittente@pec.example.it</mittente>
        <destinatari tipo="certificato">uno@pec.example.it</destinatari>
        <destinatari tipo="esterno">due@example.com</destinatari>
        <risposte>risposte@pec.example.it</risposte>
        <oggetto>Fattura n. 1 &amp; allegati</oggetto>
    </intestazione>
    <dati>
        <gestore-emittente>Esempio PEC S.p.A.</gestore-emittente>
        <data zona="+0200">
            <giorno>01/07/2025</giorno>
            <ora>09:05:00</ora>
        </data>
        <identificativo>opec1.20250701090500.1.1@pec.example.it</identificativo>
        <msgid>&lt;batch-1.row-2@pec.example.it&gt;</msgid>
        <consegna>uno@pec.example.it</consegna>
        <errore-esteso>5.1.1 - Esempio PEC S.p.A. - indirizzo non valido</errore-esteso>
    </dati>
</postacert>
)";

Daticert parse_ok(const std::string& xml, std::vector<std::string>& warnings) {
  auto parsed = parse_daticert(xml, warnings);
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return parsed.ok() ? parsed.value() : Daticert{};
}

bool has_warning(const std::vector<std::string>& warnings, const std::string& text) {
  for (const auto& w : warnings) {
    if (w.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(Daticert, ReadsEveryFact) {
  std::vector<std::string> warnings;
  const auto d = parse_ok(k_errore_consegna, warnings);
  EXPECT_TRUE(warnings.empty()) << ::testing::PrintToString(warnings);
  EXPECT_EQ(d.tipo, "errore-consegna");
  EXPECT_EQ(d.errore, "no-dest");
  EXPECT_EQ(d.mittente, "mittente@pec.example.it");
  ASSERT_EQ(d.destinatari.size(), 2u);
  EXPECT_EQ(d.destinatari[0].address, "uno@pec.example.it");
  EXPECT_EQ(d.destinatari[0].tipo, "certificato");
  EXPECT_EQ(d.destinatari[1].address, "due@example.com");
  EXPECT_EQ(d.destinatari[1].tipo, "esterno");
  EXPECT_EQ(d.risposte, "risposte@pec.example.it");
  EXPECT_EQ(d.oggetto, "Fattura n. 1 & allegati");
  EXPECT_EQ(d.gestore_emittente, "Esempio PEC S.p.A.");
  EXPECT_EQ(d.time, "2025-07-01T09:05:00+02:00");
  EXPECT_EQ(d.identificativo, "opec1.20250701090500.1.1@pec.example.it");
  EXPECT_EQ(d.msgid, "batch-1.row-2@pec.example.it");
  EXPECT_EQ(d.consegna, "uno@pec.example.it");
  EXPECT_EQ(d.errore_esteso, "5.1.1 - Esempio PEC S.p.A. - indirizzo non valido");
  EXPECT_FALSE(d.ricevuta);
}

TEST(Daticert, MissingFactsStayAbsentAndDtdDefaultsApply) {
  std::vector<std::string> warnings;
  const auto d = parse_ok(R"(<postacert tipo="accettazione">
  <intestazione><mittente>a@pec.it</mittente><destinatari>b@pec.it</destinatari>
  <risposte>a@pec.it</risposte></intestazione>
  <dati><gestore-emittente>X</gestore-emittente>
  <data zona="+0100"><giorno>02/01/2020</giorno><ora>23:59:59</ora></data>
  <identificativo>id@x</identificativo></dati></postacert>)",
                          warnings);
  EXPECT_TRUE(warnings.empty()) << ::testing::PrintToString(warnings);
  EXPECT_EQ(d.errore, "nessuno");                     // DTD default
  EXPECT_EQ(d.destinatari.at(0).tipo, "certificato"); // DTD default
  EXPECT_FALSE(d.oggetto);
  EXPECT_FALSE(d.msgid);
  EXPECT_FALSE(d.consegna);
  EXPECT_FALSE(d.ricevuta);
  EXPECT_FALSE(d.errore_esteso);
  EXPECT_EQ(d.time, "2020-01-02T23:59:59+01:00");
}

TEST(Daticert, PresaInCaricoListsRicezione) {
  std::vector<std::string> warnings;
  const auto d = parse_ok(R"(<postacert tipo="presa-in-carico" errore="nessuno">
  <intestazione><mittente>a@pec.it</mittente><destinatari>b@pec.it</destinatari>
  <destinatari>c@pec.it</destinatari><risposte>a@pec.it</risposte></intestazione>
  <dati><gestore-emittente>X</gestore-emittente>
  <data zona="+0100"><giorno>02/01/2020</giorno><ora>10:00:00</ora></data>
  <identificativo>id@x</identificativo><msgid>&lt;m@x&gt;</msgid>
  <ricezione>b@pec.it</ricezione><ricezione>c@pec.it</ricezione></dati></postacert>)",
                          warnings);
  EXPECT_TRUE(warnings.empty()) << ::testing::PrintToString(warnings);
  EXPECT_EQ(d.ricezione, (std::vector<std::string>{"b@pec.it", "c@pec.it"}));
}

TEST(Daticert, StrayTextAndOddValuesAreWarnings) {
  std::vector<std::string> warnings;
  const auto d = parse_ok(R"(<postacert tipo="consegnata" errore="boh">x
  <intestazione><mittente>a@pec.it</mittente>a<destinatari tipo="strano">b@pec.it</destinatari>
  <risposte>a@pec.it</risposte><extra/></intestazione>
  <dati><gestore-emittente>X</gestore-emittente>
  <data zona="+0100"><giorno>31/02/2020</giorno><ora>10:00:00</ora></data>
  <identificativo>id1@x</identificativo><identificativo>id2@x</identificativo>
  <ricevuta tipo="lunga"/></dati></postacert>)",
                          warnings);
  EXPECT_EQ(d.tipo, "consegnata"); // kept as written
  EXPECT_EQ(d.identificativo, "id1@x");
  EXPECT_FALSE(d.time);
  EXPECT_EQ(d.ricevuta, "lunga");
  EXPECT_TRUE(has_warning(warnings, "unknown postacert tipo \"consegnata\""));
  EXPECT_TRUE(has_warning(warnings, "unknown postacert errore \"boh\""));
  EXPECT_TRUE(has_warning(warnings, "stray text \"x\" in <postacert>"));
  EXPECT_TRUE(has_warning(warnings, "stray text \"a\" in <intestazione>"));
  EXPECT_TRUE(has_warning(warnings, "unknown destinatari tipo \"strano\""));
  EXPECT_TRUE(has_warning(warnings, "unknown element <extra> in <intestazione>"));
  EXPECT_TRUE(has_warning(warnings, "malformed <data>"));
  EXPECT_TRUE(has_warning(warnings, "repeated <identificativo>"));
  EXPECT_TRUE(has_warning(warnings, "unknown ricevuta tipo \"lunga\""));
  for (const auto& w : warnings) {
    EXPECT_EQ(w.rfind("daticert.xml: ", 0), 0u) << w;
  }
}

TEST(Daticert, DataWithoutZonaHasNoTime) {
  std::vector<std::string> warnings;
  const auto d = parse_ok(R"(<postacert tipo="accettazione"><intestazione/><dati>
  <data><giorno>02/01/2020</giorno><ora>10:00:00</ora></data></dati></postacert>)",
                          warnings);
  EXPECT_FALSE(d.time);
  EXPECT_TRUE(has_warning(warnings, "no zona"));
}

TEST(Daticert, DoctypeAndEntitiesAreNotProcessed) {
  std::vector<std::string> warnings;
  const auto d = parse_ok(R"(<?xml version="1.0"?>
<!DOCTYPE postacert [
  <!ENTITY secret SYSTEM "file:///etc/passwd">
  <!ENTITY inner "expanded">
]>
<postacert tipo="accettazione" errore="nessuno">
  <intestazione><mittente>&secret;</mittente><destinatari>b@pec.it</destinatari>
  <risposte>&inner;</risposte><oggetto>&#233;&lt;</oggetto></intestazione>
  <dati><identificativo>id@x</identificativo></dati></postacert>)",
                          warnings);
  // Custom entities are left as text, never resolved or loaded.
  EXPECT_EQ(d.mittente, "&secret;");
  EXPECT_EQ(d.risposte, "&inner;");
  // Predefined entities and character references are decoded (UTF-8).
  EXPECT_EQ(d.oggetto, "\xC3\xA9<");
}

TEST(Daticert, MalformedXmlAndWrongRootFail) {
  std::vector<std::string> warnings;
  const auto broken =
      parse_daticert("<postacert tipo=\"accettazione\"><dati></postacert>", warnings);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().kind, core::ErrorKind::input);
  EXPECT_NE(broken.error().message.find("not well-formed"), std::string::npos);

  const auto wrong = parse_daticert("<FatturaElettronica/>", warnings);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("not <postacert>"), std::string::npos);

  EXPECT_FALSE(parse_daticert("", warnings).ok());
}

TEST(DaticertTime, BuildsIso8601WithTheOffset) {
  EXPECT_EQ(daticert_time("+0100", "13/11/2018", "16:39:16"),
            "2018-11-13T16:39:16+01:00");
  EXPECT_EQ(daticert_time("+0200", "01/07/2025", "00:00:00"),
            "2025-07-01T00:00:00+02:00");
  EXPECT_EQ(daticert_time("-0530", "29/02/2024", "23:59:59"),
            "2024-02-29T23:59:59-05:30");
  EXPECT_EQ(daticert_time(" +01:00 ", " 13/11/2018 ", "16:39:16"),
            "2018-11-13T16:39:16+01:00");
}

TEST(DaticertTime, RejectsMalformedPieces) {
  EXPECT_FALSE(daticert_time("0100", "13/11/2018", "16:39:16"));
  EXPECT_FALSE(daticert_time("+1", "13/11/2018", "16:39:16"));
  EXPECT_FALSE(daticert_time("+0160", "13/11/2018", "16:39:16"));
  EXPECT_FALSE(daticert_time("+0100", "2018-11-13", "16:39:16"));
  EXPECT_FALSE(daticert_time("+0100", "29/02/2023", "16:39:16"));
  EXPECT_FALSE(daticert_time("+0100", "13/13/2018", "16:39:16"));
  EXPECT_FALSE(daticert_time("+0100", "13/11/2018", "24:00:00"));
  EXPECT_FALSE(daticert_time("+0100", "13/11/2018", "16:39"));
  EXPECT_FALSE(daticert_time("+0100", "1/11/2018", "16:39:16"));
}

TEST(StripAngleBrackets, RemovesOnePair) {
  EXPECT_EQ(strip_angle_brackets(" <a@b> "), "a@b");
  EXPECT_EQ(strip_angle_brackets("a@b"), "a@b");
  EXPECT_EQ(strip_angle_brackets("<<a@b>>"), "<a@b>");
  EXPECT_EQ(strip_angle_brackets("<a@b"), "<a@b");
}

} // namespace
} // namespace pecbatch::receipts
