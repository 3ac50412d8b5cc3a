// The evidence manifests: per-row manifest.json (history, files, hashes,
// receipt facts, daticert extraction) and the campaign manifest.

#include <pecbatch/campaign/evidence.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/hash.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

using namespace pecbatch;
using journal::State;
using nlohmann::json;

namespace {

class SignerVerifier final : public receipts::SignatureVerifier {
public:
  receipts::SignatureReport verify(const receipts::ParsedMessage& /*message*/) const override {
    receipts::SignatureReport report;
    report.status = receipts::SignatureStatus::valid;
    report.signer_email = "posta-certificata@pec.test";
    report.issuer = "CN=Test CA";
    report.signing_time = "2024-01-01T09:00:05Z";
    return report;
  }
};

const std::string k_daticert =
    "<?xml version=\"1.0\"?><postacert tipo=\"accettazione\" errore=\"nessuno\">"
    "<intestazione><mittente>a@pec.test</mittente><destinatari>ok@pec.test</destinatari>"
    "<risposte>a@pec.test</risposte><oggetto>x</oggetto></intestazione><dati>"
    "<gestore-emittente>G</gestore-emittente><data zona=\"+0100\"><giorno>01/01/2024</giorno>"
    "<ora>10:00:00</ora></data><identificativo>opec.1@pec.test</identificativo>"
    "<msgid>&lt;m1@pec.test&gt;</msgid></dati></postacert>";

// The daticert travels base64-encoded: the archive keeps the decoded bytes.
std::string accettazione() {
  static const char* const b64 =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string encoded;
  std::size_t i = 0;
  for (; i + 2 < k_daticert.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(k_daticert[i]) << 16) |
                       (static_cast<unsigned char>(k_daticert[i + 1]) << 8) |
                       static_cast<unsigned char>(k_daticert[i + 2]);
    encoded += b64[(n >> 18) & 63];
    encoded += b64[(n >> 12) & 63];
    encoded += b64[(n >> 6) & 63];
    encoded += b64[n & 63];
  }
  if (i < k_daticert.size()) {
    unsigned n = static_cast<unsigned char>(k_daticert[i]) << 16;
    if (i + 1 < k_daticert.size()) {
      n |= static_cast<unsigned char>(k_daticert[i + 1]) << 8;
    }
    encoded += b64[(n >> 18) & 63];
    encoded += b64[(n >> 12) & 63];
    encoded += i + 1 < k_daticert.size() ? b64[(n >> 6) & 63] : '=';
    encoded += '=';
  }
  return "From: posta-certificata@pec.test\r\nTo: a@pec.test\r\nSubject: ACCETTAZIONE: x\r\n"
         "X-Ricevuta: accettazione\r\nX-Riferimento-Message-ID: <m1@pec.test>\r\n"
         "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
         "--b1\r\nContent-Type: text/plain\r\n\r\ntesto\r\n--b1\r\n"
         "Content-Type: application/xml; name=\"daticert.xml\"\r\n"
         "Content-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment; filename=\"daticert.xml\"\r\n\r\n" +
         encoded + "\r\n--b1--\r\n";
}

class EvidenceTest : public pecbatch::test::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    m_campaign.id = "c1";
    m_campaign.output_dir = dir() / "out";
    std::filesystem::create_directories(m_campaign.output_dir);
  }

  journal::Journal open() {
    return journal::Journal::open(campaign::journal_path(m_campaign), m_campaign.id).value();
  }

  config::Campaign m_campaign;
  SignerVerifier m_verifier;
};

json load(const std::filesystem::path& path) {
  return json::parse(pecbatch::test::slurp(path));
}

} // namespace

TEST_F(EvidenceTest, RowManifestListsHistoryFilesAndReceipts) {
  auto journal = open();
  const auto t0 = core::from_unix_ms(1'704'099'000'000);  // 2024-01-01T08:50:00Z
  ASSERT_EQ(journal.add_rows({{7, "ok@pec.test", "m1@pec.test", "x"}}, t0).value(), 1u);
  const auto id = journal.find_by_message_id("m1@pec.test").value()->id;
  for (State s : {State::sending, State::submitting, State::submitted}) {
    journal::Transition t;
    t.at = t0;
    ASSERT_TRUE(journal.transition(id, s, t).ok());
  }
  const auto dir = campaign::evidence_dir(m_campaign, "m1@pec.test");
  std::filesystem::create_directories(dir / "receipts");
  const std::string sent = "Message-ID: <m1@pec.test>\r\n\r\nciao\r\n";
  ASSERT_TRUE(core::write_file_atomic(dir / "sent.eml", sent).ok());
  const std::string bytes = accettazione();
  ASSERT_TRUE(core::write_file_atomic(dir / "receipts/5-12-accettazione.eml", bytes).ok());

  journal::ReceiptRecord record;
  record.uid = 12;
  record.uidvalidity = 5;
  record.message_id = "m1@pec.test";
  record.kind = "accettazione";
  record.identificativo = "opec.1@pec.test";
  record.errore = "nessuno";
  record.time = "2024-01-01T10:00:00+01:00";
  record.signature = "valid";
  record.file = "evidence/m1@pec.test/receipts/5-12-accettazione.eml";
  record.sha256 = core::sha256_hex(bytes);
  record.row_id = id;
  record.at = t0;
  journal::ReceiptEffect effect;
  effect.row_id = id;
  effect.steps = {State::accepted};
  effect.detail = "receipt accettazione opec.1@pec.test";
  ASSERT_TRUE(journal.record_receipt(record, effect).ok());

  const auto row = journal.get(id).value();
  auto hash = campaign::write_row_evidence(m_campaign, journal, row, m_verifier);
  ASSERT_TRUE(hash.ok()) << hash.error().message;
  const auto manifest_file = campaign::row_manifest_path(m_campaign, "m1@pec.test");
  EXPECT_EQ(*hash, core::sha256_hex(pecbatch::test::slurp(manifest_file)));

  // The daticert, decoded from base64, byte for byte.
  EXPECT_EQ(pecbatch::test::slurp(dir / "daticert-5-12-accettazione.xml"), k_daticert);

  const json m = load(manifest_file);
  EXPECT_EQ(m["row"], 7);
  EXPECT_EQ(m["address"], "ok@pec.test");
  EXPECT_EQ(m["message_id"], "m1@pec.test");
  EXPECT_EQ(m["state"], "accepted");
  ASSERT_EQ(m["history"].size(), 5u);
  EXPECT_TRUE(m["history"][0]["from"].is_null());
  EXPECT_EQ(m["history"][0]["to"], "queued");
  EXPECT_EQ(m["history"][0]["time"], "2024-01-01T08:50:00.000Z");
  EXPECT_EQ(m["history"][4]["from"], "submitted");
  EXPECT_EQ(m["history"][4]["to"], "accepted");
  EXPECT_EQ(m["history"][4]["detail"], "receipt accettazione opec.1@pec.test");

  const auto& files = m["files"];
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0]["path"], "daticert-5-12-accettazione.xml");
  EXPECT_EQ(files[0]["sha256"], core::sha256_hex(k_daticert));
  EXPECT_EQ(files[0]["size"], k_daticert.size());
  EXPECT_EQ(files[0]["daticert_of"], "receipts/5-12-accettazione.eml");
  EXPECT_EQ(files[1]["path"], "receipts/5-12-accettazione.eml");
  EXPECT_EQ(files[1]["sha256"], core::sha256_hex(bytes));
  EXPECT_EQ(files[1]["size"], bytes.size());
  const auto& r = files[1]["receipt"];
  EXPECT_EQ(r["kind"], "accettazione");
  EXPECT_EQ(r["identificativo"], "opec.1@pec.test");
  EXPECT_EQ(r["errore"], "nessuno");
  EXPECT_EQ(r["time"], "2024-01-01T10:00:00+01:00");
  EXPECT_EQ(r["signature"]["status"], "valid");
  EXPECT_EQ(r["signature"]["signer"], "posta-certificata@pec.test");
  EXPECT_EQ(r["signature"]["issuer"], "CN=Test CA");
  EXPECT_EQ(r["signature"]["signing_time"], "2024-01-01T09:00:05Z");
  EXPECT_EQ(files[2]["path"], "sent.eml");
  EXPECT_EQ(files[2]["sha256"], core::sha256_hex(sent));

  // Idempotent: the same inputs give the same bytes.
  auto again = campaign::write_row_evidence(m_campaign, journal, row, m_verifier);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *hash);
}

TEST_F(EvidenceTest, CampaignManifestListsEveryRowManifestWithItsHash) {
  auto journal = open();
  const auto t0 = core::from_unix_ms(1'704'099'000'000);
  ASSERT_EQ(journal
                .add_rows({{1, "a@pec.test", "m1@pec.test", "x"},
                           {2, "b@pec.test", "m2@pec.test", "x"},
                           {3, "c@pec.test", "m3@pec.test", "x"}},
                          t0)
                .value(),
            3u);
  // m1: just written (hash given); m2: has evidence but no manifest yet
  // (written now); m3: no evidence at all (not listed).
  for (const char* mid : {"m1@pec.test", "m2@pec.test"}) {
    const auto dir = campaign::evidence_dir(m_campaign, mid);
    std::filesystem::create_directories(dir);
    ASSERT_TRUE(core::write_file_atomic(dir / "sent.eml", std::string("sent ") + mid).ok());
  }
  const auto row1 = journal.find_by_message_id("m1@pec.test").value();
  const auto h1 = campaign::write_row_evidence(m_campaign, journal, *row1, m_verifier).value();
  ASSERT_TRUE(
      campaign::write_campaign_manifest(m_campaign, journal, {{row1->id, h1}}, m_verifier).ok());

  const auto evidence = m_campaign.output_dir / "evidence";
  const json m = load(campaign::campaign_manifest_path(m_campaign));
  EXPECT_EQ(m["campaign"], "c1");
  ASSERT_EQ(m["rows"].size(), 2u);
  for (const auto& entry : m["rows"]) {
    const auto path = evidence / entry["manifest"].get<std::string>();
    EXPECT_EQ(entry["sha256"], core::sha256_hex(pecbatch::test::slurp(path))) << path;
  }
  EXPECT_EQ(m["rows"][0]["manifest"], "m1@pec.test/manifest.json");
  EXPECT_EQ(m["rows"][0]["row"], 1);
  EXPECT_EQ(m["rows"][1]["message_id"], "m2@pec.test");
  EXPECT_EQ(load(evidence / "m2@pec.test/manifest.json")["files"][0]["path"], "sent.eml");
}
