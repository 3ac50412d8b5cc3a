// The mailbox-level IMAP operations on a scripted server: EXAMINE versus
// SELECT, how messages are moved (UID MOVE; UID COPY + UID STORE + UID
// EXPUNGE; nothing without MOVE or UIDPLUS), [TRYCREATE], batches, and the
// folder watch that tells IDLE about new mail.

#include "imap_commands.hpp"
#include "scripted_stream.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace pecbatch::receipts;
using namespace pecbatch::receipts::imap;
using pecbatch::core::ErrorKind;
using pecbatch::test::ScriptedStream;

namespace {

struct Fixture {
  explicit Fixture(std::string server)
      : stream(std::move(server)), session(stream, "IMAP test:993", nullptr) {}
  ScriptedStream stream;
  Session session;
};

// The client's command lines, tags removed.
std::vector<std::string> commands(const std::string &written) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < written.size()) {
    const auto end = written.find("\r\n", pos);
    const std::string line = written.substr(pos, end - pos);
    out.push_back(line.substr(line.find(' ') + 1));
    pos = end == std::string::npos ? written.size() : end + 2;
  }
  return out;
}

} // namespace

TEST(ImapCommands, ExamineIsReadOnlySelectReadWrite) {
  Fixture f("* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1795341570] UIDs valid\r\n"
            "* OK [UIDNEXT 12] Predicted next UID\r\nA0001 OK [READ-ONLY] Examine completed.\r\n"
            "* 3 EXISTS\r\n* OK [UIDVALIDITY 1795341570] UIDs valid\r\n"
            "A0002 OK [READ-WRITE] Select completed.\r\n"
            "* 3 EXISTS\r\n* OK [UIDVALIDITY 1795341570] UIDs valid\r\n"
            "A0003 OK [READ-ONLY] Select completed.\r\n");
  auto examined = open_folder(f.session, "INBOX", false);
  ASSERT_TRUE(examined.ok()) << examined.error().message;
  EXPECT_EQ(examined->uidvalidity, 1795341570u);
  EXPECT_EQ(examined->uidnext, 12u);
  EXPECT_EQ(examined->exists, 3u);
  EXPECT_FALSE(examined->writable);
  auto selected = open_folder(f.session, "INBOX", true);
  ASSERT_TRUE(selected.ok()) << selected.error().message;
  EXPECT_TRUE(selected->writable);
  // A server that lets this user only read answers SELECT with READ-ONLY.
  auto refused = open_folder(f.session, "INBOX", true);
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  EXPECT_FALSE(refused->writable);
  EXPECT_EQ(commands(f.stream.written),
            (std::vector<std::string>{"EXAMINE INBOX", "SELECT INBOX", "SELECT INBOX"}));
}

TEST(ImapCommands, OpenFolderErrors) {
  Fixture f("A0001 NO Mailbox doesn't exist: Ricevute\r\n"
            "A0002 NO [UNAVAILABLE] Temporary failure\r\n"
            "* 1 EXISTS\r\nA0003 OK Examine completed.\r\n");
  auto missing = open_folder(f.session, "Ricevute", false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::config);
  EXPECT_NE(missing.error().message.find("Ricevute"), std::string::npos);
  auto busy = open_folder(f.session, "INBOX", false);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().kind, ErrorKind::transient);
  auto odd = open_folder(f.session, "INBOX", false);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().kind, ErrorKind::protocol);
  EXPECT_NE(odd.error().message.find("UIDVALIDITY"), std::string::npos);
}

TEST(ImapCommands, MoveMethodFollowsTheCapabilities) {
  {
    Fixture f("* CAPABILITY IMAP4rev1 UIDPLUS MOVE IDLE\r\nA0001 OK\r\n");
    ASSERT_TRUE(f.session.refresh_capabilities().ok());
    EXPECT_EQ(move_method(f.session).value(), MoveMethod::move);
  }
  {
    Fixture f("* CAPABILITY IMAP4rev1 UIDPLUS\r\nA0001 OK\r\n");
    ASSERT_TRUE(f.session.refresh_capabilities().ok());
    EXPECT_EQ(move_method(f.session).value(), MoveMethod::copy_expunge);
  }
  {
    // Neither known (e.g. the capabilities from before login): asked again.
    Fixture f("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0001 OK\r\n"
              "* CAPABILITY IMAP4rev1 MOVE\r\nA0002 OK\r\n");
    ASSERT_TRUE(f.session.refresh_capabilities().ok());
    EXPECT_EQ(move_method(f.session).value(), MoveMethod::move);
    EXPECT_EQ(commands(f.stream.written),
              (std::vector<std::string>{"CAPABILITY", "CAPABILITY"}));
  }
  {
    Fixture f("* CAPABILITY IMAP4rev1\r\nA0001 OK\r\n"
              "* CAPABILITY IMAP4rev1 IDLE\r\nA0002 OK\r\n");
    ASSERT_TRUE(f.session.refresh_capabilities().ok());
    EXPECT_EQ(move_method(f.session).value(), MoveMethod::none);
  }
}

TEST(ImapCommands, UidMoveInOneCommandCountedByCopyuid) {
  Fixture f("* OK [COPYUID 1795341599 3:5,9 1:4] Moved UIDs.\r\n* 3 EXPUNGE\r\n"
            "* 3 EXPUNGE\r\n* 3 EXPUNGE\r\n* 6 EXPUNGE\r\nA0001 OK Move completed.\r\n");
  auto moved = move_uids(f.session, MoveMethod::move, {3, 4, 5, 9}, "Archivio PEC");
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->method, MoveMethod::move);
  EXPECT_EQ(moved->moved, 4u);
  EXPECT_FALSE(moved->created);
  EXPECT_EQ(f.stream.written, "A0001 UID MOVE 3:5,9 \"Archivio PEC\"\r\n");
}

TEST(ImapCommands, AMissingTargetIsCreatedOnTrycreateAndTheMoveTriedOnce) {
  Fixture f("A0001 NO [TRYCREATE] Mailbox doesn't exist: Ricevute/Città\r\n"
            "A0002 OK Create completed.\r\nA0003 OK Subscribe completed.\r\n"
            "* OK [COPYUID 7 2 1] Moved UIDs.\r\n* 1 EXPUNGE\r\nA0004 OK Move completed.\r\n");
  auto moved = move_uids(f.session, MoveMethod::move, {2}, "Ricevute/Città");
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_TRUE(moved->created);
  EXPECT_EQ(moved->moved, 1u);
  // Modified UTF-7 for the folder name, the same in every command.
  EXPECT_EQ(commands(f.stream.written),
            (std::vector<std::string>{"UID MOVE 2 Ricevute/Citt&AOA-",
                                      "CREATE Ricevute/Citt&AOA-",
                                      "SUBSCRIBE Ricevute/Citt&AOA-",
                                      "UID MOVE 2 Ricevute/Citt&AOA-"}));
}

TEST(ImapCommands, ATargetThatCannotBeCreatedIsAConfigError) {
  Fixture f("A0001 NO [TRYCREATE] Mailbox doesn't exist: X\r\n"
            "A0002 NO [NOPERM] Permission denied\r\n");
  auto moved = move_uids(f.session, MoveMethod::move, {2}, "X");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().kind, ErrorKind::config);
  EXPECT_NE(moved.error().message.find("NOPERM"), std::string::npos);
  EXPECT_EQ(commands(f.stream.written), (std::vector<std::string>{"UID MOVE 2 X", "CREATE X"}));
}

TEST(ImapCommands, WithoutMoveCopyThenFlagThenExpungeOnlyTheseUids) {
  Fixture f("A0001 OK [COPYUID 7 4,8 10:11] Copy completed.\r\n"
            "A0002 OK Store completed.\r\n"
            "* 2 EXPUNGE\r\n* 5 EXPUNGE\r\nA0003 OK Expunge completed.\r\n");
  auto moved = move_uids(f.session, MoveMethod::copy_expunge, {4, 8}, "Archive");
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->method, MoveMethod::copy_expunge);
  EXPECT_EQ(moved->moved, 2u);
  EXPECT_EQ(commands(f.stream.written),
            (std::vector<std::string>{"UID COPY 4,8 Archive",
                                      "UID STORE 4,8 +FLAGS.SILENT (\\Deleted)",
                                      "UID EXPUNGE 4,8"}));
  // Never a plain EXPUNGE, which would remove every \Deleted message.
  EXPECT_EQ(f.stream.written.find(" EXPUNGE\r\n"), std::string::npos);
}

TEST(ImapCommands, NothingIsFlaggedWhenTheCopyFails) {
  Fixture f("A0001 NO [OVERQUOTA] Quota exceeded\r\n");
  auto moved = move_uids(f.session, MoveMethod::copy_expunge, {4, 8}, "Archive");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().kind, ErrorKind::transient);
  EXPECT_EQ(commands(f.stream.written), (std::vector<std::string>{"UID COPY 4,8 Archive"}));

  // A refused STORE stops before the EXPUNGE.
  Fixture g("A0001 OK Copy completed.\r\nA0002 NO Cannot store\r\n");
  moved = move_uids(g.session, MoveMethod::copy_expunge, {4}, "Archive");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().kind, ErrorKind::protocol);
  EXPECT_EQ(commands(g.stream.written),
            (std::vector<std::string>{"UID COPY 4 Archive",
                                      "UID STORE 4 +FLAGS.SILENT (\\Deleted)"}));
}

TEST(ImapCommands, ManyUidsGoInBatches) {
  std::vector<std::uint64_t> uids;
  for (std::uint64_t uid = 1; uids.size() < 1200; uid += 2) {
    uids.push_back(uid); // nothing contiguous: the longest sets
  }
  // Without COPYUID, a batch counts as asked.
  Fixture f("A0001 OK Move completed.\r\nA0002 OK Move completed.\r\n"
            "A0003 OK Move completed.\r\n");
  auto moved = move_uids(f.session, MoveMethod::move, uids, "Archive");
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->moved, 1200u);
  const auto sent = commands(f.stream.written);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_TRUE(sent[0].starts_with("UID MOVE 1,3,5,"));
  EXPECT_TRUE(sent[1].starts_with("UID MOVE 1001,1003,"));
  EXPECT_TRUE(sent[2].ends_with(",2399 Archive"));
}

TEST(ImapCommands, FolderWatchSeesGrowthWhateverTheCommand) {
  FolderWatch watch;
  watch.opened(3);
  EXPECT_FALSE(watch.grew());
  auto untagged = [](std::uint64_t n, const char *name) {
    Response r;
    r.type = Response::Type::untagged;
    r.number = n;
    r.name = name;
    return r;
  };
  watch.observe(untagged(3, "EXISTS")); // the same size: nothing new
  EXPECT_FALSE(watch.grew());
  watch.observe(untagged(2, "EXPUNGE")); // one moved away: 2 left
  watch.observe(untagged(2, "FETCH"));
  EXPECT_FALSE(watch.grew());
  watch.observe(untagged(3, "EXISTS")); // one arrived
  EXPECT_TRUE(watch.grew());
  watch.mark(); // a search for new UIDs follows: it sees that one
  EXPECT_FALSE(watch.grew());
  watch.observe(untagged(4, "EXISTS"));
  EXPECT_TRUE(watch.grew());
  watch.opened(1); // another folder
  EXPECT_FALSE(watch.grew());
}
