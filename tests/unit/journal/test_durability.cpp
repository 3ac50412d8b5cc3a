#include <pecbatch/journal/journal.hpp>

#include "journal_test_support.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <string>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace pecbatch;
using namespace pecbatch::journal;
using namespace pecbatch::journal::test;

namespace {

enum class Death { exit_without_close, sigkill };

// Exit codes of the child when something fails before it dies on purpose.
constexpr int k_child_open_failed = 10;
constexpr int k_child_transition_failed = 11;
constexpr int k_child_survived = 12;

} // namespace

class JournalDurabilityTest : public JournalTest,
                              public ::testing::WithParamInterface<Death> {
protected:
  // Forks a child that opens the journal, moves row `id` to submitting
  // (two commits) and dies without closing anything. Returns the child's
  // wait status.
  int run_child(std::int64_t id) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      // The child: no gtest assertions, no destructors (_exit / SIGKILL).
      auto journal = Journal::open(file(), k_campaign);
      if (!journal.ok()) {
        ::_exit(k_child_open_failed);
      }
      // As the sender does: `sending` is not fsync'ed, `submitting` is.
      Transition t;
      t.at = at_ms(100);
      t.new_attempt = true;
      t.durable = false;
      if (!journal->transition(id, State::sending, t).ok()) {
        ::_exit(k_child_transition_failed);
      }
      t = Transition{};
      t.at = at_ms(200);
      t.sent_sha256 = "sent";
      if (!journal->transition(id, State::submitting, t).ok()) {
        ::_exit(k_child_transition_failed);
      }
      if (GetParam() == Death::sigkill) {
        ::kill(::getpid(), SIGKILL);
        ::_exit(k_child_survived);
      }
      ::_exit(0);
    }
    int status = 0;
    EXPECT_GT(pid, 0);
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    return status;
  }
};

TEST_P(JournalDurabilityTest, ACommittedTransitionSurvivesADeadProcess) {
  std::int64_t id = 0;
  {
    // Closed before the fork: a SQLite connection must not cross a fork.
    Journal journal = open_journal();
    id = add_one(journal, 1, "a");
  }
  const int status = run_child(id);
  if (GetParam() == Death::sigkill) {
    ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
  } else {
    ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
    ASSERT_EQ(WEXITSTATUS(status), 0);
  }
  // The child never closed the journal: its commits are still in the WAL.
  EXPECT_TRUE(std::filesystem::exists(file().string() + "-wal"));
  EXPECT_GT(std::filesystem::file_size(file().string() + "-wal"), 0u);

  Journal journal = open_journal();
  const RowRecord row = journal.get(id).value();
  EXPECT_EQ(row.state, State::submitting);
  EXPECT_EQ(row.attempts, 1u);
  EXPECT_EQ(row.sent_sha256, "sent");
  EXPECT_EQ(journal.events(id)->size(), 3u);
  EXPECT_EQ(journal.submissions_since(at_ms(0)).value(),
            std::vector<core::TimePoint>{at_ms(200)});

  // The next run settles it: the provider may have the message.
  const auto recovery = journal.recover(at_ms(1000));
  ASSERT_TRUE(recovery.ok());
  EXPECT_EQ(recovery->submitting_uncertain, 1u);
  EXPECT_EQ(journal.get(id)->state, State::uncertain);
}

INSTANTIATE_TEST_SUITE_P(Deaths, JournalDurabilityTest,
                         ::testing::Values(Death::exit_without_close, Death::sigkill),
                         [](const ::testing::TestParamInfo<Death>& param_info) {
                           return std::string(param_info.param == Death::sigkill
                                                  ? "Sigkill"
                                                  : "ExitWithoutClose");
                         });

TEST_F(JournalTest, ARelaxedTransitionIsCommittedAtOnceAndSyncMakesItDurable) {
  Journal writer = open_journal();
  const std::int64_t id = add_one(writer, 1, "a");
  Transition t;
  t.at = at_ms(100);
  t.new_attempt = true;
  t.durable = false;
  ASSERT_TRUE(writer.transition(id, State::sending, t).ok());
  // Committed, not merely buffered: another connection sees it.
  {
    Journal reader = open_journal();
    EXPECT_EQ(reader.get(id)->state, State::sending);
  }
  // The connection is back to durable commits for everything else.
  Transition submitting;
  submitting.at = at_ms(200);
  submitting.sent_sha256 = "sent";
  ASSERT_TRUE(writer.transition(id, State::submitting, submitting).ok());
  ASSERT_TRUE(writer.sync().ok());
  EXPECT_EQ(open_journal().get(id)->state, State::submitting);
}
