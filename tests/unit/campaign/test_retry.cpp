// Sending rows again (campaign/retry.hpp) with the send planning that
// picks the new generation (send_campaign on a FakeTransport), and the
// evidence zip (campaign/evidence_zip.hpp).

#include <pecbatch/campaign/evidence.hpp>
#include <pecbatch/campaign/evidence_zip.hpp>
#include <pecbatch/campaign/retry.hpp>
#include <pecbatch/campaign/send.hpp>

#include "fakes/fake_clock.hpp"
#include "fakes/fake_transport.hpp"
#include "support/send_campaign.hpp"
#include "support/temp_dir.hpp"

#include <pecbatch/core/hash.hpp>

#include <gtest/gtest.h>
#include <zip.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace pecbatch;
using campaign::ResendMode;
using journal::State;
using pecbatch::test::FakeClock;
using pecbatch::test::FakeTransport;

namespace {

class AlwaysValid final : public receipts::SignatureVerifier {
public:
  receipts::SignatureReport verify(const receipts::ParsedMessage&) const override {
    receipts::SignatureReport report;
    report.status = receipts::SignatureStatus::valid;
    return report;
  }
};

class RetryTest : public pecbatch::test::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    write("contacts.csv",
          "pec;nome\r\nuno@pec.test;Uno\r\ndue@pec.test;Due\r\ntre@pec.test;Tre\r\n");
    write("body.txt", "Gentile {{nome}}.\n");
    write("campaign.toml", pecbatch::test::send_test_campaign_toml(1));
    m_campaign = config::load_campaign(dir() / "campaign.toml").value_or_throw();
    m_deps.transport = [this] {
      return std::make_unique<pecbatch::test::SharedFakeTransport>(m_fake);
    };
    m_deps.clock = &m_clock;
  }

  campaign::SendReport send() {
    campaign::SendOptions options;
    options.execute = true;
    options.date = 1'795'000'000;
    auto report = campaign::send_campaign(m_campaign, options, m_deps);
    EXPECT_TRUE(report.ok()) << report.error().message;
    return std::move(report).value_or_throw();
  }

  campaign::ResendReport resend(ResendMode mode, bool execute,
                                std::vector<State> states = {}) {
    campaign::ResendOptions options;
    options.mode = mode;
    options.execute = execute;
    options.states = std::move(states);
    options.detail = "test";
    auto report = campaign::resend_rows(m_campaign, options, m_clock);
    EXPECT_TRUE(report.ok()) << report.error().message;
    return std::move(report).value_or_throw();
  }

  journal::Journal journal() {
    return journal::Journal::open(campaign::journal_path(m_campaign), "c1").value_or_throw();
  }

  std::string first_id(const std::string& address) {
    return compose::make_message_id("c1", address, "pec.test", 1);
  }
  std::string second_id(const std::string& address) {
    return compose::make_message_id("c1", address, "pec.test", 2);
  }

  // The Message-IDs sent, in order.
  std::vector<std::string> sent_ids() const {
    std::vector<std::string> out;
    for (const auto& call : m_fake.calls()) {
      out.push_back(call.message_id);
    }
    return out;
  }

  config::Campaign m_campaign;
  FakeClock m_clock;
  FakeTransport m_fake;
  campaign::SendDeps m_deps;
};

} // namespace

TEST_F(RetryTest, ARetriedRowIsSentOnceUnderTheNextGeneration) {
  m_fake.set_script([](const dispatch::Envelope& envelope, std::size_t) {
    if (envelope.rcpt_to == "due@pec.test") {
      return FakeTransport::Step::after_data(FakeTransport::result(
          dispatch::Outcome::permanent, 554, "5.6.0", "Message refused"));
    }
    return FakeTransport::Step(FakeTransport::accepted());
  });
  send();
  ASSERT_EQ(sent_ids().size(), 3u);
  const auto old_sent =
      pecbatch::test::slurp(campaign::evidence_dir(m_campaign, first_id("due@pec.test")) /
                            "sent.eml");

  // The listing changes nothing.
  auto listed = resend(ResendMode::retry_failed, false);
  ASSERT_EQ(listed.rows.size(), 1u);
  EXPECT_EQ(listed.rows[0].row.address, "due@pec.test");
  EXPECT_EQ(listed.rows[0].new_message_id, second_id("due@pec.test"));
  EXPECT_FALSE(listed.rows[0].requeued);
  EXPECT_FALSE(journal().find_by_message_id(second_id("due@pec.test"))->has_value());

  m_fake.set_script({});  // everything accepted from now on
  auto done = resend(ResendMode::retry_failed, true);
  EXPECT_EQ(done.requeued, 1u);

  const auto report = send();
  ASSERT_EQ(sent_ids().size(), 4u);
  const auto& call = m_fake.calls().back();
  EXPECT_EQ(call.message_id, second_id("due@pec.test"));
  EXPECT_EQ(call.rcpt_to, "due@pec.test");
  EXPECT_NE(call.data.find("Message-ID: <" + second_id("due@pec.test") + ">"),
            std::string::npos);
  EXPECT_EQ(call.data.find(first_id("due@pec.test")), std::string::npos);
  EXPECT_EQ(report.progress.submitted, 1u);

  auto j = journal();
  const auto current = j.find_current(first_id("due@pec.test")).value().value();
  EXPECT_EQ(current.message_id, second_id("due@pec.test"));
  EXPECT_EQ(current.state, State::submitted);
  EXPECT_EQ(current.generation, 2u);
  EXPECT_EQ(current.sent_sha256, core::sha256_hex(call.data));
  auto retried = pecbatch::test::planned_specs(m_campaign).at("due@pec.test");
  retried.message_id = second_id("due@pec.test");
  EXPECT_EQ(current.content_sha256, campaign::content_sha256(retried));
  const auto old = j.find_by_message_id(first_id("due@pec.test")).value().value();
  EXPECT_EQ(old.content_sha256,
            campaign::content_sha256(pecbatch::test::planned_specs(m_campaign).at("due@pec.test")));
  EXPECT_EQ(old.state, State::failed);
  EXPECT_EQ(old.superseded_by, std::optional<std::int64_t>(current.id));
  // Both attempts keep their own evidence.
  EXPECT_EQ(pecbatch::test::slurp(campaign::evidence_dir(m_campaign, old.message_id) /
                                  "sent.eml"),
            old_sent);
  EXPECT_EQ(pecbatch::test::slurp(campaign::evidence_dir(m_campaign, current.message_id) /
                                  "sent.eml"),
            call.data);

  // Never twice: nothing left to send, nothing left to retry.
  send();
  EXPECT_EQ(sent_ids().size(), 4u);
  EXPECT_TRUE(resend(ResendMode::retry_failed, true).rows.empty());
}

TEST_F(RetryTest, TheSendPlanShowsTheNewMessageIdAndNeedsNoAcceptChanges) {
  m_fake.set_script([](const dispatch::Envelope& envelope, std::size_t) {
    return envelope.rcpt_to == "uno@pec.test"
               ? FakeTransport::Step(FakeTransport::result(dispatch::Outcome::permanent, 550,
                                                           "5.1.1", "Unknown"))
               : FakeTransport::Step(FakeTransport::accepted());
  });
  send();
  resend(ResendMode::retry_failed, true);
  campaign::SendOptions plan;
  plan.date = 1'795'000'000;
  const auto report = campaign::send_campaign(m_campaign, plan, m_deps).value_or_throw();
  EXPECT_FALSE(report.refused_changes);
  EXPECT_EQ(report.pending, 1u);
  ASSERT_EQ(report.first_pending.size(), 1u);
  EXPECT_EQ(report.first_pending[0].message_id, second_id("uno@pec.test"));
}

TEST_F(RetryTest, DeliveredAndUncertainRowsAreNotRetried) {
  m_fake.push(FakeTransport::accepted());
  m_fake.push(FakeTransport::Step(
      FakeTransport::result(dispatch::Outcome::unknown, 0, {}, {}, "connection lost")));
  m_fake.push(FakeTransport::accepted());
  send();
  {
    auto j = journal();
    const auto row = j.find_by_message_id(first_id("uno@pec.test")).value().value();
    journal::Transition t;
    t.at = m_clock.now();
    ASSERT_TRUE(j.transition(row.id, State::delivered, t).ok());
  }
  for (const State state : {State::delivered, State::uncertain, State::queued}) {
    campaign::ResendOptions options;
    options.states = {state};
    const auto refused = campaign::resend_rows(m_campaign, options, m_clock);
    ASSERT_FALSE(refused.ok()) << journal::to_string(state);
    EXPECT_EQ(refused.error().kind, core::ErrorKind::config);
  }
  EXPECT_TRUE(resend(ResendMode::retry_failed, true).rows.empty());
  EXPECT_EQ(journal().counts()->size(), 3u);  // delivered, uncertain, submitted
}

TEST_F(RetryTest, AnUncertainRowIsResentOnlyAfterAPollFoundNoReceipt) {
  m_fake.set_script([](const dispatch::Envelope& envelope, std::size_t) {
    if (envelope.rcpt_to != "uno@pec.test") {
      return FakeTransport::Step(
          FakeTransport::result(dispatch::Outcome::unknown, 0, {}, {}, "connection lost"));
    }
    return FakeTransport::Step(FakeTransport::accepted());
  });
  send();
  EXPECT_EQ(journal().counts()->at(State::uncertain), 2u);

  // Never polled: nothing is known, nothing is sent again.
  auto refused = resend(ResendMode::resend_uncertain, true);
  EXPECT_TRUE(refused.never_polled);
  EXPECT_EQ(refused.refused, 2u);
  EXPECT_EQ(refused.requeued, 0u);
  EXPECT_EQ(journal().counts()->at(State::uncertain), 2u);

  // A poll ran and recorded an (untrusted) receipt for "due" only.
  {
    auto j = journal();
    ASSERT_TRUE(j.set_mailbox_cursor({7, 3}).ok());
    journal::ReceiptRecord r;
    r.uid = 3;
    r.uidvalidity = 7;
    r.message_id = first_id("due@pec.test");
    r.kind = "accettazione";
    r.signature = "untrusted";
    r.at = m_clock.now();
    ASSERT_TRUE(j.record_receipt(r, std::nullopt).ok());
  }
  m_fake.set_script({});
  auto done = resend(ResendMode::resend_uncertain, true);
  ASSERT_EQ(done.rows.size(), 2u);
  EXPECT_EQ(done.requeued, 1u);
  EXPECT_EQ(done.refused, 1u);
  const auto& due = done.rows[0].row.address == "due@pec.test" ? done.rows[0] : done.rows[1];
  EXPECT_FALSE(due.refused.empty());
  EXPECT_EQ(due.receipt_kinds, std::vector<std::string>{"accettazione (untrusted)"});

  send();
  ASSERT_EQ(sent_ids().size(), 4u);
  EXPECT_EQ(sent_ids().back(), second_id("tre@pec.test"));
  auto j = journal();
  EXPECT_EQ(j.find_by_message_id(first_id("tre@pec.test"))->value().state, State::abandoned);
  EXPECT_EQ(j.find_by_message_id(first_id("due@pec.test"))->value().state, State::uncertain);
  EXPECT_EQ(j.find_current(first_id("tre@pec.test"))->value().state, State::submitted);
}

TEST_F(RetryTest, TheEvidenceZipHoldsTheArchiveByteForByte) {
  m_fake.set_script([](const dispatch::Envelope& envelope, std::size_t) {
    return envelope.rcpt_to == "due@pec.test"
               ? FakeTransport::Step::after_data(FakeTransport::result(
                     dispatch::Outcome::permanent, 554, "5.6.0", "Refused"))
               : FakeTransport::Step(FakeTransport::accepted());
  });
  send();
  resend(ResendMode::retry_failed, true);
  m_fake.set_script({});
  send();

  AlwaysValid verifier;
  campaign::EvidenceZipOptions options;
  options.out = dir() / "prove.zip";
  options.verifier = &verifier;
  options.rows = campaign::RowSet::parse("3").value_or_throw();  // due@: row 3
  const auto report =
      campaign::export_evidence_zip(m_campaign, options, m_clock).value_or_throw();
  EXPECT_EQ(report.with_evidence, 2u);  // both attempts
  ASSERT_EQ(report.rows.size(), 2u);
  EXPECT_EQ(report.zip_sha256, core::sha256_file_hex(options.out).value_or_throw());

  // Every member against the file on disk (and the expected set of names).
  int code = 0;
  zip_t* za = zip_open(options.out.c_str(), ZIP_RDONLY, &code);
  ASSERT_NE(za, nullptr);
  std::map<std::string, std::string> members;
  for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0); ++i) {
    zip_stat_t st;
    ASSERT_EQ(zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &st), 0);
    std::string data(st.size, '\0');
    zip_file_t* f = zip_fopen_index(za, static_cast<zip_uint64_t>(i), 0);
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(zip_fread(f, data.data(), data.size()), static_cast<zip_int64_t>(data.size()));
    zip_fclose(f);
    members.emplace(st.name, std::move(data));
  }
  zip_discard(za);
  const std::string top = "c1-evidence/";
  for (const auto& id : {first_id("due@pec.test"), second_id("due@pec.test")}) {
    for (const auto* name : {"sent.eml", "manifest.json"}) {
      const auto member = top + "evidence/" + id + "/" + name;
      ASSERT_EQ(members.count(member), 1u) << member;
      EXPECT_EQ(members[member],
                pecbatch::test::slurp(campaign::evidence_dir(m_campaign, id) / name));
    }
  }
  EXPECT_EQ(members.count(top + "evidence/" + first_id("uno@pec.test") + "/sent.eml"), 0u);
  EXPECT_EQ(members[top + "evidence/manifest.json"],
            pecbatch::test::slurp(campaign::campaign_manifest_path(m_campaign)));
  const auto& readme = members[top + "README.txt"];
  EXPECT_NE(readme.find("sent again " + second_id("due@pec.test")), std::string::npos);
  EXPECT_NE(readme.find("state       failed"), std::string::npos);
  const auto& sums = members[top + "SHA256SUMS"];
  for (const auto& [name, data] : members) {
    if (name == top + "SHA256SUMS") {
      continue;
    }
    EXPECT_NE(sums.find(core::sha256_hex(data) + "  " + name.substr(top.size())),
              std::string::npos)
        << name;
  }
  // Nothing left beside it.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir())) {
    files += entry.path().filename().string().find(".tmp-") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(files, 0u);
}

TEST_F(RetryTest, NoEvidenceMeansNoZip) {
  send();
  AlwaysValid verifier;
  campaign::EvidenceZipOptions options;
  options.out = dir() / "prove.zip";
  options.verifier = &verifier;
  options.rows = campaign::RowSet::parse("40-50").value_or_throw();
  write("prove.zip", "old");
  const auto refused = campaign::export_evidence_zip(m_campaign, options, m_clock);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, core::ErrorKind::no_input);
  EXPECT_EQ(pecbatch::test::slurp(options.out), "old");
}
