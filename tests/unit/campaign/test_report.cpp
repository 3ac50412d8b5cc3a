// The per-recipient report: the model built from a real journal (fields
// from the contacts file, times, errors, evidence, signature verdict), CSV
// escaping and formula neutralisation, the JSON shape, the HTML page's
// escaping and self-containment, and the relative evidence links.

#include <pecbatch/campaign/report.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/core/file.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string>

using namespace pecbatch;
using journal::State;
using json = nlohmann::ordered_json;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

// 2026-11-22T10:00:00Z = 11:00:00 in Rome.
const core::TimePoint k_t0 = core::from_unix_ms(1'795'341'600'000);

std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

class ReportTest : public pecbatch::test::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    ::setenv("TZ", "Europe/Rome", 1);
    ::tzset();
    m_campaign.id = "c1";
    m_campaign.name = "Fatture <novembre>";
    m_campaign.output_dir = dir() / "out";
    std::filesystem::create_directories(m_campaign.output_dir);
    m_campaign.contacts.file = write("contacts.csv",
                                     "pec;nome;numero\r\n"
                                     "ok@pec.test;Niccolò Perché;1\r\n"
                                     "nodest@pec.test;<script>alert(1)</script>;2\r\n"
                                     "bad@pec.test;\"=HYPERLINK(\"\"http://x\"\")\";3\r\n"
                                     "tampered@pec.test;+39 06 1234;4\r\n"
                                     "todo@pec.test;\"Rossi, Mario\";5\r\n");
    build_journal();
  }

  std::int64_t add(journal::Journal& j, std::uint64_t row, const std::string& address,
                   const std::vector<State>& path, int code = 0,
                   const std::string& enhanced = "", const std::string& text = "") {
    const std::string mid = "pecbatch.c1." + std::to_string(row) + ".1@pec.test";
    EXPECT_EQ(j.add_rows({{row, address, mid, "x"}}, k_t0).value(), 1u);
    const auto id = j.find_by_message_id(mid).value()->id;
    for (std::size_t n = 0; n < path.size(); ++n) {
      journal::Transition t;
      t.at = k_t0 + seconds(n + 1);
      t.new_attempt = path[n] == State::sending;
      if (path[n] == State::submitting) {
        t.sent_sha256 = "sent" + std::to_string(row);
      }
      if (path[n] == State::submitted) {
        t.smtp_code = 250;
        t.enhanced = "2.0.0";
        t.text = "2.0.0 Ok: queued";
      }
      if (n + 1 == path.size() && code != 0) {
        t.smtp_code = code;
        t.enhanced = enhanced;
        t.text = text;
      }
      const auto status = j.transition(id, path[n], t);
      EXPECT_TRUE(status.ok()) << status.error().message;
    }
    return id;
  }

  void receipt(journal::Journal& j, std::int64_t id, std::uint64_t row, std::uint64_t uid,
               const std::string& kind, const std::vector<State>& steps,
               const std::string& signature = "valid", const std::string& errore = "nessuno",
               const std::string& esteso = "", const std::string& consegna = "") {
    const std::string mid = "pecbatch.c1." + std::to_string(row) + ".1@pec.test";
    journal::ReceiptRecord r;
    r.uid = uid;
    r.uidvalidity = 5;
    r.message_id = mid;
    r.kind = kind;
    r.identificativo = "opec." + std::to_string(uid);
    r.consegna = consegna;
    r.errore = errore;
    r.errore_esteso = esteso;
    r.time = "2026-11-22T11:0" + std::to_string(uid % 10) + ":00+01:00";
    r.signature = signature;
    r.file = "evidence/" + mid + "/receipts/5-" + std::to_string(uid) + "-" + kind + ".eml";
    r.sha256 = std::string(64, static_cast<char>('a' + uid % 6));
    r.row_id = id;
    r.at = k_t0 + minutes(uid);
    std::optional<journal::ReceiptEffect> effect;
    if (signature == "valid") {
      effect.emplace();
      effect->row_id = id;
      effect->steps = steps;
      if (errore != "nessuno") {
        effect->text = errore + ": " + esteso;
        effect->enhanced = esteso.substr(0, 5);
      }
    }
    ASSERT_TRUE(j.record_receipt(r, effect).ok());
  }

  void build_journal() {
    auto j = journal::Journal::open(campaign::journal_path(m_campaign), "c1").value();
    const std::vector<State> submitted = {State::sending, State::submitting, State::submitted};
    // Row 2: delivered, with sent.eml kept.
    const auto ok = add(j, 2, "ok@pec.test", submitted);
    receipt(j, ok, 2, 1, "accettazione", {State::accepted});
    receipt(j, ok, 2, 3, "avvenuta-consegna", {State::delivered}, "valid", "nessuno", "",
            "ok@pec.test");
    const auto evidence = campaign::evidence_dir(m_campaign, "pecbatch.c1.2.1@pec.test");
    std::filesystem::create_directories(evidence / "receipts");
    ASSERT_TRUE(core::write_file_atomic(evidence / "sent.eml", "x").ok());
    // Row 3: mancata consegna.
    const auto nodest = add(j, 3, "nodest@pec.test", submitted);
    receipt(j, nodest, 3, 2, "accettazione", {State::accepted});
    receipt(j, nodest, 3, 4, "errore-consegna", {State::delivery_failed}, "valid", "no-dest",
            "5.1.1 - indirizzo non valido", "nodest@pec.test");
    // Row 4: refused by SMTP.
    add(j, 4, "bad@pec.test", {State::sending, State::failed}, 550, "5.1.1",
        "5.1.1 <bad@pec.test>: Recipient address rejected");
    // Row 5: a tampered consegna changes nothing; the verdict says so.
    const auto tampered = add(j, 5, "tampered@pec.test", submitted);
    receipt(j, tampered, 5, 6, "accettazione", {State::accepted});
    receipt(j, tampered, 5, 7, "avvenuta-consegna", {}, "invalid", "nessuno", "",
            "tampered@pec.test");
    // Row 6: not sent yet. Row 7: in the journal, no longer in the contacts.
    add(j, 6, "todo@pec.test", {});
    add(j, 7, "gone@pec.test", {});
  }

  campaign::Report build(std::vector<std::string> fields = {"nome", "numero"}) {
    campaign::ReportOptions options;
    options.fields = std::move(fields);
    auto report = campaign::build_report(m_campaign, options, k_t0 + minutes(30));
    EXPECT_TRUE(report.ok()) << report.error().message;
    return std::move(report).value();
  }

  config::Campaign m_campaign;
};

} // namespace

TEST_F(ReportTest, OneRowPerRecipientWithFieldsTimesErrorsAndEvidence) {
  const auto report = build();
  EXPECT_EQ(report.campaign_id, "c1");
  EXPECT_EQ(report.generated_at, "2026-11-22T11:30:00+01:00");
  EXPECT_EQ(report.fields, (std::vector<std::string>{"nome", "numero"}));
  EXPECT_EQ(report.total, 6u);
  ASSERT_EQ(report.rows.size(), 6u);
  ASSERT_EQ(report.counts.size(), campaign::lifecycle_states().size());

  const auto& ok = report.rows[0];
  EXPECT_EQ(ok.row, 2u);
  EXPECT_EQ(ok.address, "ok@pec.test");
  EXPECT_EQ(ok.fields[0], std::optional<std::string>("Niccolò Perché"));
  EXPECT_EQ(ok.fields[1], std::optional<std::string>("1"));
  EXPECT_EQ(ok.message_id, "pecbatch.c1.2.1@pec.test");
  EXPECT_FALSE(ok.retry_of);
  EXPECT_EQ(ok.state, State::delivered);
  EXPECT_EQ(ok.attempts, 1u);
  EXPECT_EQ(ok.submitted_at, std::optional<std::string>("2026-11-22T11:00:03+01:00"));
  // The certified times of the receipts.
  EXPECT_EQ(ok.accepted_at, std::optional<std::string>("2026-11-22T11:01:00+01:00"));
  EXPECT_EQ(ok.delivered_at, std::optional<std::string>("2026-11-22T11:03:00+01:00"));
  EXPECT_EQ(ok.smtp_code, 0);  // the 250 is no error
  EXPECT_EQ(ok.error, "");
  EXPECT_EQ(ok.signature, "valid");
  EXPECT_EQ(ok.evidence_dir, "evidence/pecbatch.c1.2.1@pec.test/");
  ASSERT_TRUE(ok.sent);
  EXPECT_EQ(ok.sent->path, "evidence/pecbatch.c1.2.1@pec.test/sent.eml");
  EXPECT_EQ(ok.sent->sha256, "sent2");
  ASSERT_EQ(ok.receipts.size(), 2u);
  EXPECT_EQ(ok.receipts[0].path,
            "evidence/pecbatch.c1.2.1@pec.test/receipts/5-1-accettazione.eml");
  EXPECT_EQ(ok.receipts[0].sha256, std::string(64, 'b'));
  EXPECT_EQ(ok.receipts[1].kind, "avvenuta-consegna");

  const auto& nodest = report.rows[1];
  EXPECT_EQ(nodest.state, State::delivery_failed);
  EXPECT_EQ(nodest.fields[0], std::optional<std::string>("<script>alert(1)</script>"));
  EXPECT_EQ(nodest.errore, "no-dest");
  EXPECT_EQ(nodest.errore_esteso, "5.1.1 - indirizzo non valido");
  EXPECT_EQ(nodest.error, "no-dest: 5.1.1 - indirizzo non valido");
  EXPECT_FALSE(nodest.delivered_at);
  EXPECT_EQ(nodest.evidence_dir, "");  // no directory on disk
  EXPECT_FALSE(nodest.sent);

  const auto& bad = report.rows[2];
  EXPECT_EQ(bad.state, State::failed);
  EXPECT_EQ(bad.smtp_code, 550);
  EXPECT_EQ(bad.smtp_enhanced, "5.1.1");
  EXPECT_EQ(bad.smtp_text, "5.1.1 <bad@pec.test>: Recipient address rejected");
  EXPECT_EQ(bad.error, "550 5.1.1 <bad@pec.test>: Recipient address rejected");
  EXPECT_FALSE(bad.submitted_at);
  EXPECT_EQ(bad.signature, "");

  const auto& tampered = report.rows[3];
  EXPECT_EQ(tampered.state, State::accepted);
  EXPECT_EQ(tampered.signature, "invalid");
  EXPECT_FALSE(tampered.delivered_at);  // an invalid consegna proves nothing
  EXPECT_EQ(tampered.receipts.size(), 2u);

  EXPECT_EQ(report.rows[4].state, State::queued);
  EXPECT_EQ(report.rows[4].fields[0], std::optional<std::string>("Rossi, Mario"));
  EXPECT_EQ(report.rows[5].address, "gone@pec.test");
  EXPECT_FALSE(report.rows[5].fields[0]);  // not in the contacts file any more
}

TEST_F(ReportTest, NoFieldsNeedNoContactsFile) {
  std::filesystem::remove(m_campaign.contacts.file);
  const auto report = build({});
  EXPECT_TRUE(report.fields.empty());
  EXPECT_EQ(report.rows.size(), 6u);
  EXPECT_TRUE(report.rows[0].fields.empty());
}

TEST_F(ReportTest, UnknownFieldIsAConfigurationErrorWithASuggestion) {
  campaign::ReportOptions options;
  options.fields = {"nome", "nomero"};
  const auto report = campaign::build_report(m_campaign, options, k_t0);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().kind, core::ErrorKind::config);
  EXPECT_NE(report.error().message.find("\"nomero\""), std::string::npos);
  EXPECT_NE(report.error().message.find("did you mean \"numero\""), std::string::npos);
  // Column names match ignoring case, spelled as in the header.
  EXPECT_EQ(build({"NOME"}).fields, std::vector<std::string>{"nome"});
}

TEST_F(ReportTest, CampaignWithoutJournalIsAConfigurationError) {
  m_campaign.output_dir = dir() / "never-sent";
  const auto report = campaign::build_report(m_campaign, {}, k_t0);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().kind, core::ErrorKind::config);
}

TEST_F(ReportTest, ARetryIsLinkedToTheAttemptItSendsAgain) {
  {
    auto j = journal::Journal::open(campaign::journal_path(m_campaign), "c1").value();
    const auto old = j.find_by_message_id("pecbatch.c1.4.1@pec.test").value();
    ASSERT_TRUE(old);
    journal::Resend resend;
    resend.id = old->id;
    resend.new_message_id = "pecbatch.c1.4.2@pec.test";
    resend.at = k_t0 + minutes(20);
    resend.detail = "test";
    const auto retried = j.retry_row(resend);
    ASSERT_TRUE(retried.ok()) << retried.error().message;
  }
  const auto report = build();
  ASSERT_EQ(report.rows.size(), 7u);  // every attempt is listed
  EXPECT_EQ(report.total, 6u);        // recipients: the latest attempts
  const auto& first = report.rows[2];
  const auto& again = report.rows[3];
  EXPECT_EQ(first.message_id, "pecbatch.c1.4.1@pec.test");
  EXPECT_EQ(first.state, State::failed);
  EXPECT_FALSE(first.current);
  EXPECT_EQ(first.retried_as, std::optional<std::string>("pecbatch.c1.4.2@pec.test"));
  EXPECT_EQ(again.message_id, "pecbatch.c1.4.2@pec.test");
  EXPECT_EQ(again.state, State::queued);
  EXPECT_TRUE(again.current);
  EXPECT_EQ(again.retry_of, std::optional<std::string>("pecbatch.c1.4.1@pec.test"));
  EXPECT_EQ(again.fields[0], std::optional<std::string>("=HYPERLINK(\"http://x\")"));
  for (const auto& count : report.counts) {
    if (count.state == State::failed) {
      EXPECT_EQ(count.count, 0u);  // the failure was sent again
    }
    if (count.state == State::queued) {
      EXPECT_EQ(count.count, 3u);
    }
  }
  const auto doc = json::parse(campaign::render_json(report));
  EXPECT_EQ(doc["rows"][3]["retry_of"], "pecbatch.c1.4.1@pec.test");
  EXPECT_EQ(doc["rows"][2]["retried_as"], "pecbatch.c1.4.2@pec.test");
  EXPECT_EQ(doc["rows"][2]["current"], false);
  const std::string html = campaign::render_html(report, {});
  EXPECT_EQ(count_of(html, "<tr data-state="), 7u);
  EXPECT_EQ(count_of(html, "class=\"superseded\""), 1u);
  EXPECT_NE(html.find("<option value=\"failed\">failed (1)</option>"), std::string::npos);
}

TEST(CsvCell, NeutralisesFormulasAndQuotesPerRfc4180) {
  using campaign::csv_cell;
  EXPECT_EQ(csv_cell("Mario Rossi", ','), "Mario Rossi");
  EXPECT_EQ(csv_cell("", ','), "");
  EXPECT_EQ(csv_cell("=1+2", ','), "'=1+2");
  EXPECT_EQ(csv_cell("+39 06 1234", ','), "'+39 06 1234");
  EXPECT_EQ(csv_cell("-5", ','), "'-5");
  EXPECT_EQ(csv_cell("@SUM(A1)", ','), "'@SUM(A1)");
  EXPECT_EQ(csv_cell("\tx", ','), "'\tx");
  EXPECT_EQ(csv_cell("\rx", ','), "\"'\rx\"");
  EXPECT_EQ(csv_cell("a=b", ','), "a=b");  // only a leading character counts
  EXPECT_EQ(csv_cell("Rossi, Mario", ','), "\"Rossi, Mario\"");
  EXPECT_EQ(csv_cell("Rossi, Mario", ';'), "Rossi, Mario");
  EXPECT_EQ(csv_cell("a;b", ';'), "\"a;b\"");
  EXPECT_EQ(csv_cell("say \"ciao\"", ','), "\"say \"\"ciao\"\"\"");
  EXPECT_EQ(csv_cell("two\nlines", ','), "\"two\nlines\"");
  EXPECT_EQ(csv_cell("=HYPERLINK(\"http://x\")", ','), "\"'=HYPERLINK(\"\"http://x\"\")\"");
}

TEST_F(ReportTest, CsvHasAHeaderOneLinePerRowAndExcelOptions) {
  const auto report = build();
  const std::string csv = campaign::render_csv(report, {});
  const std::string header =
      "row,address,nome,numero,message_id,retry_of,retried_as,state,attempts,submitted_at,accepted_at,"
      "delivered_at,smtp_code,smtp_enhanced,smtp_text,errore,errore_esteso,signature,"
      "evidence_dir,sent_file,sent_sha256,receipt_files,receipt_sha256\r\n";
  ASSERT_EQ(csv.substr(0, header.size()), header);
  EXPECT_NE(csv.find("\r\n2,ok@pec.test,Niccolò Perché,1,pecbatch.c1.2.1@pec.test,,,delivered,1,"
                     "2026-11-22T11:00:03+01:00,2026-11-22T11:01:00+01:00,"
                     "2026-11-22T11:03:00+01:00,,,,,,valid,evidence/pecbatch.c1.2.1@pec.test/,"
                     "evidence/pecbatch.c1.2.1@pec.test/sent.eml,sent2,\""
                     "evidence/pecbatch.c1.2.1@pec.test/receipts/5-1-accettazione.eml\n"
                     "evidence/pecbatch.c1.2.1@pec.test/receipts/5-3-avvenuta-consegna.eml\","),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",\"'=HYPERLINK(\"\"http://x\"\")\",3,"), std::string::npos);
  EXPECT_NE(csv.find(",'+39 06 1234,4,"), std::string::npos);
  EXPECT_NE(csv.find(",\"Rossi, Mario\",5,"), std::string::npos);
  EXPECT_NE(csv.find(",550,5.1.1,5.1.1 <bad@pec.test>: Recipient address rejected,"),
            std::string::npos);
  EXPECT_NE(csv.find(",no-dest,5.1.1 - indirizzo non valido,valid,"), std::string::npos);
  EXPECT_EQ(csv.substr(csv.size() - 2), "\r\n");
  EXPECT_NE(csv.substr(0, 3), "\xEF\xBB\xBF");

  campaign::CsvOptions excel;
  excel.delimiter = ';';
  excel.bom = true;
  const std::string semi = campaign::render_csv(report, excel);
  EXPECT_EQ(semi.substr(0, 3), "\xEF\xBB\xBF");
  EXPECT_EQ(semi.substr(3, 24), "row;address;nome;numero;");
  EXPECT_NE(semi.find(";Rossi, Mario;5;"), std::string::npos);
}

TEST_F(ReportTest, JsonHasTheDocumentedShape) {
  const auto doc = json::parse(campaign::render_json(build()));
  EXPECT_EQ(doc["report_version"], 1);
  EXPECT_EQ(doc["campaign"], "c1");
  EXPECT_EQ(doc["name"], "Fatture <novembre>");
  EXPECT_EQ(doc["generated_at"], "2026-11-22T11:30:00+01:00");
  EXPECT_EQ(doc["fields"], json::array({"nome", "numero"}));
  EXPECT_EQ(doc["total"], 6);
  ASSERT_EQ(doc["counts"].size(), campaign::lifecycle_states().size());
  EXPECT_EQ(doc["counts"].begin().key(), "queued");
  EXPECT_EQ(doc["counts"]["queued"], 2);
  EXPECT_EQ(doc["counts"]["delivered"], 1);
  EXPECT_EQ(doc["counts"]["uncertain"], 0);
  EXPECT_EQ(doc["groups"]["failure"], 2);
  EXPECT_EQ(doc["groups"]["success"], 1);
  EXPECT_EQ(doc["groups"]["awaiting_receipts"], 1);
  EXPECT_EQ(doc["groups"]["to_send"], 2);
  ASSERT_EQ(doc["rows"].size(), 6u);
  const auto& ok = doc["rows"][0];
  std::vector<std::string> keys;
  for (auto it = ok.begin(); it != ok.end(); ++it) {
    keys.push_back(it.key());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "row", "address", "fields", "message_id", "retry_of", "retried_as",
                      "current", "state", "group",
                      "attempts", "submitted_at", "accepted_at", "delivered_at", "smtp_code",
                      "smtp_enhanced", "smtp_text", "errore", "errore_esteso", "error",
                      "signature", "evidence"}));
  EXPECT_EQ(ok["fields"]["nome"], "Niccolò Perché");
  EXPECT_TRUE(ok["retry_of"].is_null());
  EXPECT_TRUE(ok["retried_as"].is_null());
  EXPECT_EQ(ok["current"], true);
  EXPECT_TRUE(ok["smtp_code"].is_null());
  EXPECT_EQ(ok["evidence"]["sent"]["sha256"], "sent2");
  EXPECT_EQ(ok["evidence"]["receipts"][1]["kind"], "avvenuta-consegna");
  EXPECT_EQ(ok["evidence"]["receipts"][1]["sha256"], std::string(64, 'd'));
  EXPECT_EQ(doc["rows"][2]["smtp_code"], 550);
  EXPECT_EQ(doc["rows"][3]["signature"], "invalid");
  EXPECT_TRUE(doc["rows"][5]["fields"]["nome"].is_null());
  EXPECT_TRUE(doc["rows"][5]["evidence"]["dir"].is_null());
}

TEST_F(ReportTest, HtmlEscapesUserDataAndNeedsNoNetwork) {
  const auto report = build();
  const std::string html = campaign::render_html(report, {"../out/"});
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("content=\"default-src 'none'; style-src 'unsafe-inline'; "
                      "script-src 'unsafe-inline'; img-src data:\""),
            std::string::npos);
  // The name is shown as text, never as markup.
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"), std::string::npos);
  EXPECT_NE(html.find("Fatture &lt;novembre&gt;"), std::string::npos);
  EXPECT_NE(html.find("<td>Niccolò Perché</td>"), std::string::npos);
  EXPECT_NE(html.find("=HYPERLINK(&quot;http://x&quot;)"), std::string::npos);
  // One inline script, no external resource of any kind.
  EXPECT_EQ(count_of(html, "<script"), 1u);
  EXPECT_EQ(count_of(html, "src="), 0u);
  EXPECT_EQ(count_of(html, "<link"), 0u);
  EXPECT_EQ(count_of(html, "url("), 0u);
  EXPECT_EQ(count_of(html, "@import"), 0u);
  // The only URL scheme is in the user's own text, escaped.
  EXPECT_EQ(count_of(html, "http:"), 1u);
  EXPECT_EQ(count_of(html, "https:"), 0u);
  EXPECT_EQ(count_of(html, "file:"), 0u);
  // One table row per recipient, one chart bar per state present.
  EXPECT_EQ(count_of(html, "<tr data-state="), 6u);
  EXPECT_EQ(count_of(html, "<g class=\"bar "), 5u);
  EXPECT_NE(html.find("data-state=\"queued\" data-count=\"2\""), std::string::npos);
  EXPECT_NE(html.find("data-state=\"delivered\" data-count=\"1\""), std::string::npos);
  // Relative evidence links, through the prefix.
  EXPECT_NE(html.find("href=\"../out/evidence/pecbatch.c1.2.1@pec.test/receipts/"
                      "5-3-avvenuta-consegna.eml\""),
            std::string::npos);
  EXPECT_NE(html.find("href=\"../out/evidence/pecbatch.c1.2.1@pec.test/sent.eml\""),
            std::string::npos);
  EXPECT_NE(html.find("class=\"sig-bad\">avvenuta-consegna</a>"), std::string::npos);
}

TEST(HtmlEscape, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(campaign::html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(campaign::html_escape("Perché"), "Perché");
}

TEST_F(ReportTest, LinkPrefixIsTheWayFromTheReportToTheOutputDirectory) {
  const auto out = m_campaign.output_dir;
  EXPECT_EQ(campaign::link_prefix_for(out / "report.html", out), "");
  EXPECT_EQ(campaign::link_prefix_for(dir() / "reports" / "r.html", out), "../out/");
  EXPECT_EQ(campaign::link_prefix_for(dir() / "r.html", out), "out/");
  EXPECT_EQ(campaign::link_prefix_for(out / "a" / "b" / "r.html", out), "../../");
}
