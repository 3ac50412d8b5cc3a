// The receipt poller on a FakeMailbox: headers first (unrelated mail is
// never fetched), matching, the state machine, deduplication, untrusted
// receipts, orphans, uncertain rows, folders, the cursor and UIDVALIDITY
// changes.

#include <pecbatch/campaign/poll.hpp>
#include <pecbatch/campaign/send.hpp>

#include "fakes/fake_clock.hpp"
#include "fakes/fake_mailbox.hpp"
#include "support/temp_dir.hpp"

#include <pecbatch/core/hash.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <string>
#include <vector>

using namespace pecbatch;
using journal::State;
using pecbatch::test::FakeClock;
using pecbatch::test::FakeMailbox;

namespace {

// Valid unless the message says otherwise (synthetic receipts carry no
// real signature).
class FakeVerifier final : public receipts::SignatureVerifier {
public:
  receipts::SignatureReport verify(const receipts::ParsedMessage& message) const override {
    receipts::SignatureReport report;
    if (message.raw.find("X-Test-Signature: invalid") != std::string::npos) {
      report.status = receipts::SignatureStatus::invalid;
      report.reason = "content digest mismatch (test)";
    } else {
      report.status = receipts::SignatureStatus::valid;
    }
    return report;
  }
};

struct Recipient {
  Recipient(std::string a, std::string t = "certificato")  // NOLINT: implicit on purpose
      : address(std::move(a)), tipo(std::move(t)) {}
  std::string address;
  std::string tipo;
};

struct Spec {
  std::string kind;  // X-Ricevuta / daticert tipo
  std::string msgid;
  std::string consegna;
  std::string errore = "nessuno";
  std::string esteso;
  std::vector<Recipient> destinatari;
  std::string extra_headers;
  std::string identificativo = "opec.1@pec.test";
};

std::string receipt(const Spec& s);

// A synthetic receipt (see Spec).
std::string rcpt(std::string kind, std::string msgid, std::string consegna = "",
                 std::string errore = "nessuno", std::string esteso = "",
                 std::vector<Recipient> destinatari = {}, std::string extra_headers = "") {
  Spec s;
  s.kind = std::move(kind);
  s.msgid = std::move(msgid);
  s.consegna = std::move(consegna);
  s.errore = std::move(errore);
  s.esteso = std::move(esteso);
  s.destinatari = std::move(destinatari);
  s.extra_headers = std::move(extra_headers);
  return receipt(s);
}

std::string receipt(const Spec& s) {
  std::string m = "From: \"Per conto di: a@pec.test\" <posta-certificata@pec.test>\r\n"
                  "To: a@pec.test\r\nSubject: " + s.kind + ": test\r\n"
                  "X-Ricevuta: " + s.kind + "\r\nX-Riferimento-Message-ID: <" + s.msgid +
                  ">\r\n" + s.extra_headers +
                  "Date: Mon, 1 Jan 2024 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
                  "Content-Type: text/plain\r\n\r\ntesto\r\n--b1\r\n"
                  "Content-Type: application/xml; name=\"daticert.xml\"\r\n"
                  "Content-Disposition: attachment; filename=\"daticert.xml\"\r\n\r\n"
                  "<?xml version=\"1.0\"?><postacert tipo=\"" + s.kind + "\" errore=\"" +
                  s.errore + "\"><intestazione><mittente>a@pec.test</mittente>";
  for (const auto& r : s.destinatari) {
    m += "<destinatari tipo=\"" + r.tipo + "\">" + r.address + "</destinatari>";
  }
  m += "<risposte>a@pec.test</risposte><oggetto>test</oggetto></intestazione><dati>"
       "<gestore-emittente>G</gestore-emittente><data zona=\"+0100\"><giorno>01/01/2024"
       "</giorno><ora>10:00:00</ora></data><identificativo>" + s.identificativo +
       "</identificativo><msgid>&lt;" + s.msgid + "&gt;</msgid>";
  if (!s.consegna.empty()) {
    m += "<consegna>" + s.consegna + "</consegna>";
  }
  if (!s.esteso.empty()) {
    m += "<errore-esteso>" + s.esteso + "</errore-esteso>";
  }
  m += "</dati></postacert>\r\n--b1--\r\n";
  return m;
}

class PollTest : public pecbatch::test::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    m_campaign.id = "c1";
    m_campaign.output_dir = dir() / "out";
    std::filesystem::create_directories(m_campaign.output_dir);
  }

  // Adds a row and brings it to `submitted`; returns its Message-ID.
  std::string add_row(std::uint64_t row, const std::string& address,
                      std::string message_id = {}) {
    if (message_id.empty()) {
      message_id = "pecbatch.c1.row" + std::to_string(row) + ".1@pec.test";
    }
    auto journal = open();
    EXPECT_EQ(journal.add_rows({{row, address, message_id, "x"}}, m_clock.now()).value(), 1u);
    const auto id = journal.find_by_message_id(message_id).value()->id;
    for (State s : {State::sending, State::submitting, State::submitted}) {
      journal::Transition t;
      t.at = m_clock.now();
      EXPECT_TRUE(journal.transition(id, s, t).ok());
    }
    return message_id;
  }

  // Adds a row left `uncertain` (the connection dropped after the whole
  // message was sent); returns its Message-ID.
  std::string add_uncertain_row(std::uint64_t row, const std::string& address) {
    const std::string message_id = "pecbatch.c1.row" + std::to_string(row) + ".1@pec.test";
    auto journal = open();
    EXPECT_EQ(journal.add_rows({{row, address, message_id, "x"}}, m_clock.now()).value(), 1u);
    const auto id = journal.find_by_message_id(message_id).value()->id;
    for (State s : {State::sending, State::submitting, State::uncertain}) {
      journal::Transition t;
      t.at = m_clock.now();
      EXPECT_TRUE(journal.transition(id, s, t).ok());
    }
    return message_id;
  }

  journal::Journal open() {
    return journal::Journal::open(campaign::journal_path(m_campaign), m_campaign.id).value();
  }

  State state_of(const std::string& message_id) {
    return open().find_by_message_id(message_id).value()->state;
  }

  core::Result<campaign::PollReport> poll(campaign::PollOptions options = {},
                                          bool real_verifier = false) {
    campaign::PollDeps deps;
    deps.mailbox = [this] { return m_mailbox.make(); };
    deps.verifier = real_verifier ? nullptr : &m_verifier;
    deps.clock = &m_clock;
    return campaign::poll_campaign(m_campaign, options, deps);
  }

  config::Campaign m_campaign;
  FakeMailbox m_mailbox;
  FakeClock m_clock;
  FakeVerifier m_verifier;
};

} // namespace

TEST_F(PollTest, AppliesTheStateMachineForEachKindOfReceipt) {
  const auto delivered = add_row(1, "ok@pec.test");
  const auto nodest = add_row(2, "nodest@pec.test");
  const auto external = add_row(3, "someone@example.com");
  const auto late = add_row(4, "ritardo@pec.test");
  const auto refused = add_row(5, "rifiuto@pec.test");
  const auto warned = add_row(6, "lento@pec.test");
  // A consegna may come before the accettazione.
  m_mailbox.add(rcpt("avvenuta-consegna", delivered, "OK@PEC.TEST"));
  m_mailbox.add(rcpt("accettazione", delivered, "", "nessuno", "", {{"ok@pec.test"}}));
  m_mailbox.add(rcpt("accettazione", nodest, "", "nessuno", "", {{"nodest@pec.test"}}));
  m_mailbox.add(rcpt("errore-consegna", nodest, "nodest@pec.test", "no-dest",
                         "5.1.1 - indirizzo non valido"));
  m_mailbox.add(rcpt("accettazione", external, "", "nessuno", "",
                     {{"someone@example.com", "esterno"}}));
  m_mailbox.add(rcpt("accettazione", late, "", "nessuno", "", {{"ritardo@pec.test"}}));
  m_mailbox.add(rcpt("preavviso-errore-consegna", late, "ritardo@pec.test", "altro",
                         "4.4.7 - prime dodici ore"));
  m_mailbox.add(rcpt("preavviso-errore-consegna", late, "ritardo@pec.test", "altro",
                         "5.4.1 - prime ventiquattro ore"));
  m_mailbox.add(rcpt("non-accettazione", refused, "", "altro", "5.7.1 - rifiutato"));
  m_mailbox.add(rcpt("preavviso-errore-consegna", warned, "lento@pec.test", "altro",
                         "4.4.7 - prime dodici ore"));

  auto report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(delivered), State::delivered);
  EXPECT_EQ(state_of(nodest), State::delivery_failed);
  EXPECT_EQ(state_of(external), State::sent_external);
  EXPECT_EQ(state_of(late), State::failed_timeout);
  EXPECT_EQ(state_of(refused), State::rejected);
  EXPECT_EQ(state_of(warned), State::delayed);
  EXPECT_EQ(report->counts.fetched, 10u);
  EXPECT_EQ(report->counts.receipts, 10u);
  EXPECT_EQ(report->pending, 1u);  // lento: delayed
  const auto row = open().find_by_message_id(nodest).value();
  EXPECT_EQ(row->last_text, "no-dest: 5.1.1 - indirizzo non valido");
  EXPECT_EQ(row->last_enhanced, "5.1.1");

  // Evidence: the exact bytes, under the row's directory.
  const auto file = campaign::receipts_dir(m_campaign, delivered) / "1-1-avvenuta-consegna.eml";
  EXPECT_EQ(pecbatch::test::slurp(file), m_mailbox.state().inbox().messages.at(1));

  // A late consegna wins over the 24 h notice... and the 12 h warning.
  m_mailbox.add(rcpt("avvenuta-consegna", late, "ritardo@pec.test"));
  m_mailbox.add(rcpt("avvenuta-consegna", warned, "lento@pec.test"));
  report = poll();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(state_of(late), State::delivered);
  EXPECT_EQ(state_of(warned), State::delivered);
  EXPECT_EQ(report->pending, 0u);
}

TEST_F(PollTest, UntrustedReceiptsAndOtherRecipientsChangeNothing) {
  const auto mid = add_row(1, "ok@pec.test");
  m_mailbox.add(rcpt("avvenuta-consegna", mid, "ok@pec.test", "nessuno", "", {},
                         "X-Test-Signature: invalid\r\n"));
  m_mailbox.add(rcpt("avvenuta-consegna", mid, "somebody-else@pec.test"));
  // An anomaly envelope about our message (e.g. a forged consegna).
  m_mailbox.add("From: a@b\r\nX-Trasporto: errore\r\nX-Riferimento-Message-ID: <" + mid +
                ">\r\nSubject: ANOMALIA MESSAGGIO: x\r\n\r\nx\r\n");

  auto report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(mid), State::submitted);
  EXPECT_EQ(report->counts.untrusted, 1u);
  EXPECT_EQ(report->counts.unmatched, 1u);
  EXPECT_EQ(report->counts.other, 1u);
  EXPECT_EQ(report->counts.applied, 0u);
  const auto receipts = open().receipts().value();
  ASSERT_EQ(receipts.size(), 3u);
  EXPECT_EQ(receipts[0].signature, "invalid");
  EXPECT_EQ(receipts[0].file, "evidence/" + mid + "/receipts/1-1-avvenuta-consegna.eml");
  EXPECT_EQ(receipts[2].file, "evidence/" + mid + "/receipts/1-3-anomaly.eml");
  for (const auto& r : receipts) {
    EXPECT_TRUE(std::filesystem::exists(m_campaign.output_dir / r.file)) << r.file;
  }
}

TEST_F(PollTest, HeadersFirstNeverFetchesUnrelatedMail) {
  const auto mid = add_row(1, "ok@pec.test");
  // Ordinary mail, another campaign's receipt, a recipient's reply (an
  // envelope whose own Message-ID is not ours), a message with no header
  // at all, and a receipt that names our id only in its Subject.
  m_mailbox.add("From: someone@example.com\r\nSubject: hello " + mid + "\r\n\r\nhi\r\n");
  m_mailbox.add(rcpt("accettazione", "pecbatch.other.0a1b2c.1@pec.test", "", "nessuno", "",
                     {{"ok@pec.test"}}));
  m_mailbox.add("X-Trasporto: posta-certificata\r\n"
                "X-Riferimento-Message-ID: <reply.1@pec.test>\r\n"
                "Subject: POSTA CERTIFICATA: Re: " + mid + "\r\n\r\nx\r\n");
  m_mailbox.add("not a message");
  m_mailbox.add("X-Ricevuta: accettazione\r\nSubject: ACCETTAZIONE: " + mid + "\r\n\r\nx\r\n");
  const auto ours =
      m_mailbox.add(rcpt("accettazione", mid, "", "nessuno", "", {{"ok@pec.test"}}));

  auto report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(mid), State::accepted);
  EXPECT_EQ(m_mailbox.state().fetched, std::vector<std::uint64_t>{ours});
  EXPECT_EQ(m_mailbox.state().header_fetched.size(), 6u);
  EXPECT_EQ(report->counts.examined, 6u);
  EXPECT_EQ(report->counts.skipped, 5u);
  EXPECT_EQ(report->counts.fetched, 1u);
  EXPECT_EQ(report->counts.message_bytes, m_mailbox.state().inbox().messages.at(ours).size());
  EXPECT_EQ(report->counts.bytes, m_mailbox.state().bytes);
  EXPECT_EQ(open().receipts()->size(), 1u);  // unrelated mail is not even recorded
  EXPECT_FALSE(std::filesystem::exists(campaign::unmatched_dir(m_campaign)));
  EXPECT_EQ(open().mailbox_cursor().value()->last_uid, ours);

  // The cursor passed the skipped messages: nothing is read again, and a
  // skipped message that is the last one is not re-examined either.
  m_mailbox.add("From: someone@example.com\r\n\r\nlater\r\n");
  report = poll();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->counts.examined, 1u);
  EXPECT_EQ(report->counts.skipped, 1u);
  report = poll();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->counts.examined, 0u);
  EXPECT_EQ(m_mailbox.state().fetched.size(), 1u);
  EXPECT_EQ(open().mailbox_cursor().value()->last_uid, ours + 1);
}

TEST_F(PollTest, OrphanReceiptsAreFetchedArchivedAndReported) {
  add_row(1, "ok@pec.test");
  // Our campaign's form, but no row has it (e.g. a row removed from a
  // journal restored from an old backup).
  const std::string orphan = "pecbatch.c1.ffffffffffffffffffff.1@pec.test";
  const auto uid = m_mailbox.add(rcpt("avvenuta-consegna", orphan, "gone@pec.test"));
  auto report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(m_mailbox.state().fetched, std::vector<std::uint64_t>{uid});
  EXPECT_EQ(report->counts.orphans, 1u);
  ASSERT_EQ(report->orphans.size(), 1u);
  EXPECT_EQ(report->orphans[0].message_id, orphan);
  EXPECT_EQ(report->orphans[0].folder, "INBOX");
  EXPECT_EQ(report->orphans[0].uid, uid);
  EXPECT_EQ(report->orphans[0].kind, "avvenuta-consegna");
  EXPECT_EQ(report->orphans[0].file, "evidence/_unmatched/1-1-avvenuta-consegna.eml");
  EXPECT_EQ(pecbatch::test::slurp(m_campaign.output_dir / report->orphans[0].file),
            m_mailbox.state().inbox().messages.at(uid));
  const auto receipts = open().receipts().value();
  ASSERT_EQ(receipts.size(), 1u);
  EXPECT_FALSE(receipts[0].row_id);
}

TEST_F(PollTest, ARunAgainNeverFetchesOrCountsTwice) {
  const auto mid = add_row(1, "ok@pec.test");
  m_mailbox.add(rcpt("accettazione", mid, "", "nessuno", "", {{"ok@pec.test"}}));
  ASSERT_TRUE(poll().ok());
  EXPECT_EQ(state_of(mid), State::accepted);
  const auto events = open().events(open().find_by_message_id(mid).value()->id).value().size();

  auto again = poll();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->counts.fetched, 0u);
  EXPECT_EQ(m_mailbox.state().fetched.size(), 1u);
  EXPECT_EQ(open().receipts()->size(), 1u);
  EXPECT_EQ(open().events(open().find_by_message_id(mid).value()->id)->size(), events);
}

TEST_F(PollTest, AFailureMidPassResumesWhereItStopped) {
  const auto mid = add_row(1, "ok@pec.test");
  m_mailbox.add(rcpt("accettazione", mid, "", "nessuno", "", {{"ok@pec.test"}}));
  m_mailbox.add(rcpt("avvenuta-consegna", mid, "ok@pec.test"));
  m_mailbox.state().fetch_errors.emplace(
      2, core::make_error(core::ErrorKind::transient, "connection lost"));
  auto first = poll();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().kind, core::ErrorKind::transient);
  EXPECT_EQ(state_of(mid), State::accepted);
  EXPECT_EQ(open().mailbox_cursor().value()->last_uid, 1u);

  auto second = poll();
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(state_of(mid), State::delivered);
  EXPECT_EQ(m_mailbox.state().fetched, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(open().receipts()->size(), 2u);
}

TEST_F(PollTest, AChangedUidvalidityRereadsWithoutCountingTwice) {
  const auto mid = add_row(1, "ok@pec.test");
  m_mailbox.add(rcpt("accettazione", mid, "", "nessuno", "", {{"ok@pec.test"}}));
  ASSERT_TRUE(poll().ok());
  m_mailbox.renumber(99);
  m_mailbox.add(rcpt("avvenuta-consegna", mid, "ok@pec.test"));
  auto report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->counts.fetched, 2u);
  EXPECT_EQ(report->counts.duplicates, 1u);
  EXPECT_EQ(state_of(mid), State::delivered);
  const auto cursor = open().mailbox_cursor().value();
  EXPECT_EQ(cursor->uidvalidity, 99u);
  EXPECT_EQ(cursor->last_uid, 2u);
  // One accepted event, one delivered event: nothing applied twice.
  auto journal = open();
  const auto id = journal.find_by_message_id(mid).value()->id;
  const std::vector<journal::Event> events = journal.events(id).value();
  std::size_t accepted = 0;
  for (const auto& e : events) {
    accepted += e.to == State::accepted ? 1 : 0;
  }
  EXPECT_EQ(accepted, 1u);
}

TEST_F(PollTest, UntilFinalWaitsForReceiptsThenStops) {
  const auto mid = add_row(1, "ok@pec.test");
  m_mailbox.state().on_select = [&](FakeMailbox::State& state) {
    if (state.selects == 3) {
      auto& inbox = state.inbox();
      inbox.messages[inbox.next_uid++] = rcpt("avvenuta-consegna", mid, "ok@pec.test");
    }
  };
  campaign::PollOptions options;
  options.until_final = true;
  options.timeout = std::chrono::minutes(10);
  auto report = poll(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_FALSE(report->timed_out);
  EXPECT_EQ(report->pending, 0u);
  EXPECT_EQ(report->counts.passes, 3u);
  // 2 s, then 4 s.
  EXPECT_EQ(m_clock.total_slept(), std::chrono::milliseconds(6'000));
}

TEST_F(PollTest, UntilFinalGivesUpAtTheTimeout) {
  add_row(1, "ok@pec.test");
  campaign::PollOptions options;
  options.until_final = true;
  options.timeout = std::chrono::seconds(100);
  auto report = poll(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(report->timed_out);
  EXPECT_EQ(report->pending, 1u);
  EXPECT_EQ(m_clock.total_slept(), std::chrono::seconds(100));
}

TEST_F(PollTest, AuthenticationFailureStopsAtOnce) {
  add_row(1, "ok@pec.test");
  m_mailbox.state().select_error = core::make_error(core::ErrorKind::auth, "login refused");
  campaign::PollOptions options;
  options.until_final = true;
  options.timeout = std::chrono::seconds(100);
  auto report = poll(options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().kind, core::ErrorKind::auth);
  EXPECT_EQ(m_mailbox.state().selects, 1u);
}

TEST_F(PollTest, RefusesACampaignNeverSent) {
  auto report = poll();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().kind, core::ErrorKind::config);
}

// Real receipts (Aruba, 2018), verified with the system trust store.
TEST_F(PollTest, RealArubaReceiptsDeliverTheRow) {
  const std::string msgid =
      "1542123565.921546936035156.464602125997431-openerp-8-fatturapa.attachment.out@"
      "elbati-Vostro-3550";
  add_row(1, "l.battistini@pec.it", msgid);
  const auto dir = pecbatch::test::data_path("receipts/OCA__l10n-italy");
  m_mailbox.add(pecbatch::test::slurp(dir / "CONSEGNA_ IT03339130126_00009.xml.txt"));
  m_mailbox.add(pecbatch::test::slurp(dir / "ACCETTAZIONE_ IT03339130126_00009.xml.txt"));
  // The same consegna again (e.g. copied back into the mailbox).
  m_mailbox.add(pecbatch::test::slurp(dir / "CONSEGNA_ IT03339130126_00009.xml.txt"));
  auto report = poll({}, /*real_verifier=*/true);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(msgid), State::delivered);
  EXPECT_EQ(report->counts.receipts, 2u);
  EXPECT_EQ(report->counts.duplicates, 1u);  // the same bytes under another UID
  const auto receipts = open().receipts().value();
  ASSERT_EQ(receipts.size(), 3u);
  EXPECT_EQ(receipts[0].signature, "valid");
  EXPECT_EQ(receipts[0].kind, "avvenuta-consegna");
  EXPECT_EQ(receipts[0].consegna, "l.battistini@pec.it");
}

TEST_F(PollTest, RowsWithoutAFinalReceiptPastTheDeadlineBecomeNoReceipt) {
  m_campaign.poll.no_receipt_after_hours = 26;
  const auto quiet = add_row(1, "quiet@pec.test");      // submitted, nothing ever
  const auto accepted = add_row(2, "acc@pec.test");     // accepted, no consegna
  const auto late_acc = add_row(3, "late@pec.test");    // accepted 10 h after sending
  const auto delayed = add_row(4, "slow@pec.test");     // delayed: left alone
  const auto done = add_row(5, "ok@pec.test");          // delivered: final
  m_mailbox.add(rcpt("accettazione", accepted, "", "nessuno", "", {{"acc@pec.test"}}));
  m_mailbox.add(rcpt("accettazione", delayed, "", "nessuno", "", {{"slow@pec.test"}}));
  m_mailbox.add(rcpt("preavviso-errore-consegna", delayed, "slow@pec.test", "altro",
                     "4.4.7 - prime dodici ore"));
  m_mailbox.add(rcpt("avvenuta-consegna", done, "ok@pec.test"));
  // The accettazione of row 3 is dated 10 h after the submission.
  Spec late;
  late.kind = "accettazione";
  late.msgid = late_acc;
  late.destinatari = {{"late@pec.test"}};
  std::string bytes = receipt(late);
  const auto t = std::chrono::system_clock::to_time_t(m_clock.now() + std::chrono::hours(10));
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char day[16];
  char hour[16];
  std::strftime(day, sizeof day, "%d/%m/%Y", &tm);
  std::strftime(hour, sizeof hour, "%H:%M:%S", &tm);
  bytes.replace(bytes.find("<data zona=\"+0100\"><giorno>01/01/2024</giorno><ora>10:00:00"),
                std::string("<data zona=\"+0100\"><giorno>01/01/2024</giorno><ora>10:00:00").size(),
                std::string("<data zona=\"+0000\"><giorno>") + day + "</giorno><ora>" + hour);
  m_mailbox.add(bytes);

  // Before the deadline nothing moves.
  m_clock.advance(std::chrono::hours(25));
  auto report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->counts.no_receipt, 0u);
  EXPECT_EQ(state_of(quiet), State::submitted);
  EXPECT_EQ(state_of(accepted), State::accepted);
  EXPECT_EQ(state_of(late_acc), State::accepted);

  // 26 h after the submission: rows 1 and 2, not row 3 (accepted at +10 h).
  m_clock.advance(std::chrono::hours(1));
  report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->counts.no_receipt, 2u);
  EXPECT_EQ(state_of(quiet), State::no_receipt);
  EXPECT_EQ(state_of(accepted), State::no_receipt);
  EXPECT_EQ(state_of(late_acc), State::accepted);
  EXPECT_EQ(state_of(delayed), State::delayed);
  EXPECT_EQ(state_of(done), State::delivered);
  EXPECT_EQ(report->pending, 2u);  // late (accepted), slow (delayed)
  auto journal = open();
  const auto events = journal.events(journal.find_by_message_id(quiet).value()->id).value();
  EXPECT_EQ(events.back().to, State::no_receipt);
  EXPECT_EQ(events.back().detail, "no final receipt within 26 h");

  m_clock.advance(std::chrono::hours(10));
  report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->counts.no_receipt, 1u);
  EXPECT_EQ(state_of(late_acc), State::no_receipt);
}

TEST_F(PollTest, TheDeadlineIsConfigurable) {
  m_campaign.poll.no_receipt_after_hours = 48;
  const auto mid = add_row(1, "quiet@pec.test");
  m_clock.advance(std::chrono::hours(47));
  ASSERT_TRUE(poll().ok());
  EXPECT_EQ(state_of(mid), State::submitted);
  m_clock.advance(std::chrono::hours(1));
  ASSERT_TRUE(poll().ok());
  EXPECT_EQ(state_of(mid), State::no_receipt);
}

TEST_F(PollTest, EachPassWritesTheEvidenceManifests) {
  const auto mid = add_row(1, "ok@pec.test");
  m_mailbox.add(rcpt("accettazione", mid, "", "nessuno", "", {{"ok@pec.test"}}));
  ASSERT_TRUE(poll().ok());
  const auto dir = campaign::evidence_dir(m_campaign, mid);
  EXPECT_TRUE(std::filesystem::exists(dir / "daticert-1-1-accettazione.xml"));
  const auto manifest = pecbatch::test::slurp(dir / "manifest.json");
  EXPECT_NE(manifest.find("\"state\": \"accepted\""), std::string::npos);
  const auto campaign_manifest =
      pecbatch::test::slurp(m_campaign.output_dir / "evidence" / "manifest.json");
  EXPECT_NE(campaign_manifest.find(core::sha256_hex(manifest)), std::string::npos);

  // A pass with nothing new leaves both unchanged.
  ASSERT_TRUE(poll().ok());
  EXPECT_EQ(pecbatch::test::slurp(dir / "manifest.json"), manifest);
  EXPECT_EQ(pecbatch::test::slurp(m_campaign.output_dir / "evidence" / "manifest.json"),
            campaign_manifest);

  m_mailbox.add(rcpt("avvenuta-consegna", mid, "ok@pec.test"));
  ASSERT_TRUE(poll().ok());
  const auto updated = pecbatch::test::slurp(dir / "manifest.json");
  EXPECT_NE(updated.find("\"state\": \"delivered\""), std::string::npos);
  EXPECT_NE(updated.find("daticert-1-2-avvenuta-consegna.xml"), std::string::npos);
}

TEST_F(PollTest, NoDeadlineWhenTheMailboxCouldNotBeRead) {
  const auto mid = add_row(1, "quiet@pec.test");
  m_clock.advance(std::chrono::hours(30));
  m_mailbox.state().select_error = core::make_error(core::ErrorKind::transient, "down");
  ASSERT_FALSE(poll().ok());
  EXPECT_EQ(state_of(mid), State::submitted);
  m_mailbox.state().select_error.reset();
  ASSERT_TRUE(poll().ok());
  EXPECT_EQ(state_of(mid), State::no_receipt);
}

TEST_F(PollTest, AnUncertainRowIsSettledByASearchForItsMessageId) {
  const auto mid = add_uncertain_row(1, "ok@pec.test");
  const auto acceptance = m_mailbox.add(rcpt("accettazione", mid, "", "nessuno", "",
                                             {{"ok@pec.test"}}));
  m_mailbox.add("From: someone@example.com\r\n\r\nunrelated\r\n");
  m_mailbox.add("From: someone@example.com\r\n\r\nunrelated\r\n");
  // The scan already went past the receipt (e.g. a journal whose cursor
  // was carried over): only the search can find it.
  ASSERT_TRUE(open().set_mailbox_cursor({1, 3}).ok());

  auto report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(mid), State::accepted);
  EXPECT_EQ(m_mailbox.state().searches,
            std::vector<std::string>{"X-Riferimento-Message-ID: " + mid});
  EXPECT_EQ(m_mailbox.state().fetched, std::vector<std::uint64_t>{acceptance});
  EXPECT_TRUE(m_mailbox.state().header_fetched.empty());
  EXPECT_EQ(report->counts.searched, 1u);
  EXPECT_EQ(report->counts.found_by_search, 1u);
  EXPECT_EQ(report->counts.settled, 1u);
  EXPECT_EQ(report->needs_decision, 0u);
  EXPECT_EQ(open().mailbox_cursor().value()->last_uid, 3u);  // a search moves no cursor
  const auto receipts = open().receipts().value();
  ASSERT_EQ(receipts.size(), 1u);
  EXPECT_EQ(receipts[0].uid, acceptance);
  EXPECT_TRUE(std::filesystem::exists(campaign::receipts_dir(m_campaign, mid) /
                                      "1-1-accettazione.eml"));

  // Accepted now: no more searching.
  report = poll();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(m_mailbox.state().searches.size(), 1u);
}

TEST_F(PollTest, AnUncertainRowWithNoReceiptStaysUncertain) {
  m_campaign.poll.uncertain_grace_hours = 6;
  const auto mid = add_uncertain_row(1, "ok@pec.test");
  m_mailbox.add(rcpt("accettazione", "pecbatch.other.x.1@pec.test", "", "nessuno", "",
                     {{"ok@pec.test"}}));
  auto report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(mid), State::uncertain);
  EXPECT_EQ(report->counts.searched, 1u);
  EXPECT_EQ(report->pending, 1u);
  EXPECT_EQ(report->needs_decision, 0u);
  EXPECT_TRUE(m_mailbox.state().fetched.empty());

  // Past the grace window: no search, and --until-final does not wait for
  // a receipt that will not come: the row needs `pecbatch resolve`.
  m_clock.advance(std::chrono::hours(6));
  campaign::PollOptions options;
  options.until_final = true;
  options.timeout = std::chrono::minutes(10);
  report = poll(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->counts.passes, 1u);
  EXPECT_EQ(report->counts.searched, 0u);
  EXPECT_EQ(report->pending, 1u);
  EXPECT_EQ(report->needs_decision, 1u);
  EXPECT_FALSE(report->timed_out);
  EXPECT_EQ(m_clock.total_slept(), std::chrono::milliseconds(0));
  EXPECT_EQ(state_of(mid), State::uncertain);
}

TEST_F(PollTest, AReceiptSeenBeforeTheRowWasUncertainSettlesIt) {
  // Send crashed with the row in `submitting`; a poll ran before the next
  // send recovered it: the accettazione is recorded but cannot apply.
  const std::string mid = "pecbatch.c1.row1.1@pec.test";
  {
    auto journal = open();
    ASSERT_EQ(journal.add_rows({{1, "ok@pec.test", mid, "x"}}, m_clock.now()).value(), 1u);
    const auto id = journal.find_by_message_id(mid).value()->id;
    for (State s : {State::sending, State::submitting}) {
      journal::Transition t;
      t.at = m_clock.now();
      ASSERT_TRUE(journal.transition(id, s, t).ok());
    }
  }
  m_mailbox.add(rcpt("accettazione", mid, "", "nessuno", "", {{"ok@pec.test"}}));
  auto report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(mid), State::submitting);
  EXPECT_EQ(report->counts.applied, 0u);

  // The next send's recovery makes it uncertain; the recorded receipt
  // settles it without reading the mailbox again.
  ASSERT_EQ(open().recover(m_clock.now()).value().submitting_uncertain, 1u);
  report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(mid), State::accepted);
  EXPECT_EQ(report->counts.settled, 1u);
  EXPECT_EQ(report->counts.applied, 1u);
  EXPECT_EQ(m_mailbox.state().fetched.size(), 1u);
  auto journal = open();
  const auto events = journal.events(journal.find_by_message_id(mid).value()->id).value();
  EXPECT_EQ(events.back().to, State::accepted);
  EXPECT_EQ(events.back().detail, "receipt accettazione opec.1@pec.test");
}

TEST_F(PollTest, EachFolderHasItsOwnCursor) {
  m_campaign.poll.folders = {"INBOX", "Ricevute PEC"};
  m_mailbox.state().folders["Ricevute PEC"].uidvalidity = 7;
  const auto mid = add_row(1, "ok@pec.test");
  m_mailbox.add(rcpt("accettazione", mid, "", "nessuno", "", {{"ok@pec.test"}}));
  m_mailbox.add("From: someone@example.com\r\n\r\nx\r\n", "Ricevute PEC");
  m_mailbox.add(rcpt("avvenuta-consegna", mid, "ok@pec.test"), "Ricevute PEC");
  auto report = poll();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(mid), State::delivered);
  EXPECT_EQ(m_mailbox.state().selected, (std::vector<std::string>{"INBOX", "Ricevute PEC"}));
  auto journal = open();
  EXPECT_EQ(journal.get_meta("imap:last_uid").value(), "1");
  EXPECT_EQ(journal.get_meta("imap:uidvalidity").value(), "1");
  EXPECT_EQ(journal.folder_cursor("Ricevute PEC").value()->last_uid, 2u);
  EXPECT_EQ(journal.get_meta("imap:folder:Ricevute PEC:uidvalidity").value(), "7");
  EXPECT_TRUE(std::filesystem::exists(campaign::receipts_dir(m_campaign, mid) /
                                      "7-2-avvenuta-consegna.eml"));

  // A folder that does not exist is a configuration error.
  m_campaign.poll.folders = {"INBOX", "Nowhere"};
  report = poll();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().kind, core::ErrorKind::config);

  // Two folders with one UIDVALIDITY cannot be told apart: refused.
  m_campaign.poll.folders = {"INBOX", "Ricevute PEC"};
  m_mailbox.state().folders["Ricevute PEC"].uidvalidity = 1;
  report = poll();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().kind, core::ErrorKind::config);
  EXPECT_NE(report.error().message.find("UIDVALIDITY"), std::string::npos);
}

TEST(PollTime, ParsesDaticertTimes) {
  using campaign::parse_receipt_time;
  EXPECT_EQ(parse_receipt_time("2024-01-01T10:00:00+01:00"),
            core::from_unix_ms(1'704'099'600'000));
  EXPECT_EQ(parse_receipt_time("2024-01-01T09:00:00Z"), core::from_unix_ms(1'704'099'600'000));
  EXPECT_EQ(parse_receipt_time("2024-01-01T09:00:00"), core::from_unix_ms(1'704'099'600'000));
  EXPECT_EQ(parse_receipt_time(""), std::nullopt);
  EXPECT_EQ(parse_receipt_time("2024-13-01T09:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_receipt_time("2024-01-01T09:00:00+0100"), std::nullopt);
}

// poll.archive_folder (opt-in moves) and waiting with IMAP IDLE.
namespace {

class Notices final : public campaign::PollObserver {
public:
  void on_notice(const std::string& text) override { texts.push_back(text); }
  std::size_t count(const std::string& part) const {
    std::size_t n = 0;
    for (const auto& t : texts) {
      n += t.find(part) != std::string::npos ? 1 : 0;
    }
    return n;
  }
  std::vector<std::string> texts;
};

class PollArchiveTest : public PollTest {
protected:
  core::Result<campaign::PollReport> poll_observed(campaign::PollOptions options = {}) {
    campaign::PollDeps deps;
    deps.mailbox = [this] { return m_mailbox.make(); };
    deps.verifier = &m_verifier;
    deps.clock = &m_clock;
    deps.observer = &m_notices;
    deps.stop = &m_stop;
    return campaign::poll_campaign(m_campaign, options, deps);
  }

  std::vector<std::string> messages(const std::string& folder) {
    std::vector<std::string> out;
    for (const auto& [uid, bytes] : m_mailbox.state().folders[folder].messages) {
      out.push_back(bytes);
    }
    return out;
  }

  Notices m_notices;
  std::atomic<bool> m_stop{false};
};

} // namespace

TEST_F(PollArchiveTest, MovesOnlyThisCampaignsEvidenceOnceArchivedAndRecorded) {
  m_campaign.poll.archive_folder = "Archivio PEC";
  const auto ok = add_row(1, "ok@pec.test");
  const auto bad = add_row(2, "bad@pec.test");
  const std::string unrelated = "From: someone@example.com\r\nSubject: " + ok + "\r\n\r\nhi\r\n";
  const std::string other = rcpt("accettazione", "pecbatch.other.0a1b.1@pec.test");
  const std::string reply = "X-Trasporto: posta-certificata\r\n"
                            "X-Riferimento-Message-ID: <reply.1@pec.test>\r\n\r\nx\r\n";
  std::vector<std::string> evidence = {
      rcpt("accettazione", ok, "", "nessuno", "", {{"ok@pec.test"}}),
      rcpt("avvenuta-consegna", ok, "ok@pec.test"),
      // Untrusted, but archived evidence of our row all the same.
      rcpt("avvenuta-consegna", bad, "bad@pec.test", "nessuno", "", {},
           "X-Test-Signature: invalid\r\n"),
      // An orphan: our campaign's form, no row.
      rcpt("avvenuta-consegna", "pecbatch.c1.ffffffffffffffffffff.1@pec.test", "gone@pec.test"),
  };
  m_mailbox.add(unrelated);
  m_mailbox.add(evidence[0]);
  m_mailbox.add(other);
  m_mailbox.add(evidence[1]);
  m_mailbox.add(reply);
  m_mailbox.add(evidence[2]);
  m_mailbox.add(evidence[3]);

  // At the moment of the move, every message moved is archived byte for
  // byte and recorded in the journal.
  unsigned checked = 0;
  m_mailbox.state().on_move = [&](FakeMailbox::State& state, const FakeMailbox::Move& move) {
    auto journal = open();
    const auto records = journal.receipts().value();
    for (const auto uid : move.uids) {
      const auto it = std::find_if(records.begin(), records.end(), [&](const auto& r) {
        return r.uid == uid && r.uidvalidity == move.uidvalidity;
      });
      ASSERT_NE(it, records.end()) << "UID " << uid << " moved before it was recorded";
      EXPECT_EQ(pecbatch::test::slurp(m_campaign.output_dir / it->file),
                state.folders[move.folder].messages.at(uid));
      ++checked;
    }
  };
  auto report = poll_observed();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(ok), State::delivered);
  EXPECT_EQ(checked, 4u);
  // One batch, one read-write opening.
  ASSERT_EQ(m_mailbox.state().moves.size(), 1u);
  EXPECT_EQ(m_mailbox.state().moves[0].uids, (std::vector<std::uint64_t>{2, 4, 6, 7}));
  EXPECT_EQ(m_mailbox.state().moves[0].target, "Archivio PEC");
  EXPECT_EQ(m_mailbox.state().read_write_selects, 1u);
  EXPECT_EQ(report->counts.moved, 4u);
  EXPECT_EQ(messages("INBOX"), (std::vector<std::string>{unrelated, other, reply}));
  EXPECT_EQ(messages("Archivio PEC"), evidence);
  EXPECT_EQ(m_notices.count("created folder Archivio PEC"), 1u);

  // Again: nothing left to move; the cursor and the journal are intact.
  report = poll_observed();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->counts.fetched, 0u);
  EXPECT_EQ(m_mailbox.state().moves.size(), 1u);
  EXPECT_EQ(open().mailbox_cursor().value()->last_uid, 7u);
  EXPECT_EQ(open().receipts()->size(), 4u);
}

TEST_F(PollArchiveTest, WithoutTheKeyTheMailboxIsOnlyRead) {
  const auto ok = add_row(1, "ok@pec.test");
  m_mailbox.add(rcpt("accettazione", ok, "", "nessuno", "", {{"ok@pec.test"}}));
  m_mailbox.add(rcpt("avvenuta-consegna", ok, "ok@pec.test"));
  auto report = poll_observed();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(ok), State::delivered);
  EXPECT_TRUE(m_mailbox.state().moves.empty());
  EXPECT_EQ(m_mailbox.state().read_write_selects, 0u);
  EXPECT_TRUE(m_mailbox.state().searches.empty());
  EXPECT_EQ(m_mailbox.state().inbox().messages.size(), 2u);
  EXPECT_EQ(report->counts.moved, 0u);
}

TEST_F(PollArchiveTest, AServerWithoutMoveOrUidplusIsLeftAloneWithOneWarning) {
  m_campaign.poll.archive_folder = "Archivio";
  m_mailbox.state().move_method = receipts::MoveMethod::none;
  const auto ok = add_row(1, "ok@pec.test");
  m_mailbox.add(rcpt("accettazione", ok, "", "nessuno", "", {{"ok@pec.test"}}));
  m_mailbox.state().on_select = [&](FakeMailbox::State& state) {
    if (state.selects == 2) {
      auto& inbox = state.inbox();
      inbox.messages[inbox.next_uid++] = rcpt("avvenuta-consegna", ok, "ok@pec.test");
    }
  };
  campaign::PollOptions options;
  options.until_final = true;
  options.timeout = std::chrono::minutes(1);
  auto report = poll_observed(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(ok), State::delivered);
  EXPECT_EQ(report->counts.passes, 2u);
  // Asked once, told "none", never again in this run; nothing moved.
  EXPECT_EQ(m_mailbox.state().moves.size(), 1u);
  EXPECT_EQ(m_mailbox.state().read_write_selects, 0u);
  EXPECT_EQ(m_mailbox.state().inbox().messages.size(), 2u);
  EXPECT_EQ(m_notices.count("neither MOVE nor UIDPLUS"), 1u);
  EXPECT_EQ(report->counts.moved, 0u);
}

TEST_F(PollArchiveTest, AMoveThatFailsIsDoneByTheNextRun) {
  m_campaign.poll.archive_folder = "Archivio";
  const auto ok = add_row(1, "ok@pec.test");
  m_mailbox.add(rcpt("accettazione", ok, "", "nessuno", "", {{"ok@pec.test"}}));
  m_mailbox.add(rcpt("avvenuta-consegna", ok, "ok@pec.test"));
  // As if the run had been killed between recording and moving.
  m_mailbox.state().move_error = core::make_error(core::ErrorKind::transient, "connection lost");
  auto report = poll_observed();
  ASSERT_TRUE(report.ok()) << report.error().message;  // the receipts are safe
  EXPECT_EQ(state_of(ok), State::delivered);
  EXPECT_EQ(m_mailbox.state().inbox().messages.size(), 2u);
  EXPECT_EQ(m_notices.count("could not be moved"), 1u);

  // The cursor is past them; a search for the campaign's Message-IDs finds
  // them, the journal confirms they are ours, and they move.
  report = poll_observed();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->counts.fetched, 0u);
  EXPECT_EQ(m_mailbox.state().fetched.size(), 2u);
  ASSERT_EQ(m_mailbox.state().moves.size(), 2u);
  EXPECT_EQ(m_mailbox.state().moves[1].uids, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_TRUE(m_mailbox.state().inbox().messages.empty());
  EXPECT_EQ(m_mailbox.state().folders["Archivio"].messages.size(), 2u);
  EXPECT_EQ(open().receipts()->size(), 2u);
}

TEST_F(PollArchiveTest, TheSweepMovesOnlyWhatTheJournalRecorded) {
  m_campaign.poll.archive_folder = "Archivio";
  const auto ok = add_row(1, "ok@pec.test");
  // Recorded by an earlier run (cursor past it), never moved.
  m_mailbox.add(rcpt("accettazione", ok, "", "nessuno", "", {{"ok@pec.test"}}));
  m_campaign.poll.archive_folder.clear();
  ASSERT_TRUE(poll_observed().ok());
  // Behind the cursor: a message naming our Message-ID that pecbatch never
  // fetched (e.g. a forged one appended later with a low UID is impossible
  // in IMAP, but a journal restored from a backup has the same effect).
  {
    auto journal = open();
    ASSERT_TRUE(journal.set_mailbox_cursor({1, 5}).ok());
  }
  m_mailbox.add(rcpt("avvenuta-consegna", ok, "ok@pec.test"));  // UID 2, never read
  m_campaign.poll.archive_folder = "Archivio";
  auto report = poll_observed();
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_EQ(m_mailbox.state().moves.size(), 1u);
  EXPECT_EQ(m_mailbox.state().moves[0].uids, std::vector<std::uint64_t>{1});
  EXPECT_EQ(m_mailbox.state().inbox().messages.count(2), 1u);
  EXPECT_EQ(m_mailbox.state().searches,
            std::vector<std::string>{"X-Riferimento-Message-ID: pecbatch.c1."});
}

TEST_F(PollArchiveTest, AReceiptMovedAwayStillSettlesItsRowWhenItTurnsUncertain) {
  // The row is `submitting` when its accettazione is recorded (and moved):
  // the receipt cannot apply yet, and a search of INBOX would not find it.
  m_campaign.poll.archive_folder = "Archivio";
  const std::string mid = "pecbatch.c1.row1.1@pec.test";
  {
    auto journal = open();
    ASSERT_EQ(journal.add_rows({{1, "ok@pec.test", mid, "x"}}, m_clock.now()).value(), 1u);
    const auto id = journal.find_by_message_id(mid).value()->id;
    for (State s : {State::sending, State::submitting}) {
      journal::Transition t;
      t.at = m_clock.now();
      ASSERT_TRUE(journal.transition(id, s, t).ok());
    }
  }
  m_mailbox.add(rcpt("accettazione", mid, "", "nessuno", "", {{"ok@pec.test"}}));
  ASSERT_TRUE(poll_observed().ok());
  EXPECT_EQ(state_of(mid), State::submitting);
  EXPECT_TRUE(m_mailbox.state().inbox().messages.empty());

  ASSERT_EQ(open().recover(m_clock.now()).value().submitting_uncertain, 1u);
  auto report = poll_observed();
  ASSERT_TRUE(report.ok()) << report.error().message;
  // Settled from the archived, recorded receipt (verified again).
  EXPECT_EQ(state_of(mid), State::accepted);
  EXPECT_EQ(report->counts.settled, 1u);
  EXPECT_EQ(report->counts.found_by_search, 0u);
  EXPECT_EQ(m_mailbox.state().fetched.size(), 1u);
}

TEST_F(PollArchiveTest, IdleEndsTheWaitAsSoonAsMailArrives) {
  m_mailbox.state().idle = true;
  const auto ok = add_row(1, "ok@pec.test");
  m_mailbox.state().on_wait = [&](FakeMailbox::State& state, std::chrono::milliseconds) {
    auto& inbox = state.inbox();
    inbox.messages[inbox.next_uid++] = rcpt("avvenuta-consegna", ok, "ok@pec.test");
    return receipts::WaitResult::new_mail;
  };
  campaign::PollOptions options;
  options.until_final = true;
  options.interval = std::chrono::minutes(10);
  const auto start = m_clock.now();
  auto report = poll_observed(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(ok), State::delivered);
  EXPECT_EQ(report->counts.passes, 2u);
  EXPECT_EQ(report->counts.idle_wakeups, 1u);
  EXPECT_EQ(m_mailbox.state().waits,
            std::vector<std::chrono::milliseconds>{std::chrono::minutes(10)});
  EXPECT_EQ(m_clock.total_slept(), std::chrono::milliseconds(0));
  EXPECT_EQ(m_clock.now(), start);
}

TEST_F(PollArchiveTest, IdleNeverLongerThanTheIntervalNorTwentyEightMinutes) {
  m_mailbox.state().idle = true;
  const auto ok = add_row(1, "ok@pec.test");
  unsigned waited = 0;
  m_mailbox.state().on_wait = [&](FakeMailbox::State& state, std::chrono::milliseconds wait) {
    m_clock.advance(wait);
    if (++waited < 3) {
      return receipts::WaitResult::timed_out;
    }
    auto& inbox = state.inbox();
    inbox.messages[inbox.next_uid++] = rcpt("avvenuta-consegna", ok, "ok@pec.test");
    return receipts::WaitResult::new_mail;
  };
  campaign::PollOptions options;
  options.until_final = true;
  options.interval = std::chrono::hours(1);
  auto report = poll_observed(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(state_of(ok), State::delivered);
  using std::chrono::minutes;
  EXPECT_EQ(m_mailbox.state().waits,
            (std::vector<std::chrono::milliseconds>{minutes(28), minutes(28), minutes(4)}));
  EXPECT_EQ(report->counts.passes, 2u);

  // With a timeout, never past it either.
  m_mailbox.state().waits.clear();
  waited = 0;
  add_row(2, "late@pec.test");
  options.timeout = std::chrono::minutes(5);
  m_mailbox.state().on_wait = [&](FakeMailbox::State&, std::chrono::milliseconds wait) {
    m_clock.advance(wait);
    return receipts::WaitResult::timed_out;
  };
  report = poll_observed(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(report->timed_out);
  EXPECT_EQ(m_mailbox.state().waits, std::vector<std::chrono::milliseconds>{minutes(5)});
}

TEST_F(PollArchiveTest, NoIdleWithoutTheCapabilityOrWithSeveralFolders) {
  add_row(1, "ok@pec.test");
  campaign::PollOptions options;
  options.until_final = true;
  options.interval = std::chrono::seconds(30);
  options.timeout = std::chrono::seconds(60);
  // The server offers no IDLE: sleeps.
  auto report = poll_observed(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(report->timed_out);
  EXPECT_EQ(m_clock.total_slept(), std::chrono::seconds(60));
  EXPECT_TRUE(m_mailbox.state().waits.empty());

  // Two folders: IDLE watches one only, so it is not used.
  m_mailbox.state().idle = true;
  m_campaign.poll.folders = {"INBOX", "Ricevute"};
  m_mailbox.state().folders["Ricevute"].uidvalidity = 7;
  report = poll_observed(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(m_mailbox.state().waits.empty());
  EXPECT_EQ(m_clock.total_slept(), std::chrono::seconds(120));
}

TEST_F(PollArchiveTest, IdleFailureFallsBackToSleepingAndStopEndsIt) {
  m_mailbox.state().idle = true;
  add_row(1, "ok@pec.test");
  m_mailbox.state().wait_error = core::make_error(core::ErrorKind::transient, "connection lost");
  campaign::PollOptions options;
  options.until_final = true;
  options.interval = std::chrono::seconds(30);
  options.timeout = std::chrono::seconds(30);
  auto report = poll_observed(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(m_notices.count("IDLE"), 1u);
  EXPECT_EQ(m_clock.total_slept(), std::chrono::seconds(30));

  // A stop request during IDLE ends the poll as interrupted.
  m_mailbox.state().on_wait = [&](FakeMailbox::State&, std::chrono::milliseconds) {
    m_stop = true;
    return receipts::WaitResult::stopped;
  };
  options.timeout = std::chrono::minutes(10);
  report = poll_observed(options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(report->interrupted);
  EXPECT_EQ(m_clock.total_slept(), std::chrono::seconds(30));
}
