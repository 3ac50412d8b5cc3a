#pragma once

// The mailbox-level IMAP operations of the OpenSSL mailbox that go beyond
// one command: opening a folder (EXAMINE or SELECT) and reading its
// status, choosing how to move messages and moving them (UID MOVE, or UID
// COPY + UID STORE + UID EXPUNGE, creating the target on [TRYCREATE]),
// and following the folder's size while idling. Over any imap::Session,
// so that tests/unit/receipts/test_imap_commands.cpp can drive them on a
// scripted server.

#include <pecbatch/core/result.hpp>
#include <pecbatch/receipts/mailbox.hpp>

#include "imap_session.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace pecbatch::receipts::imap {

// UIDs per UID MOVE / COPY / STORE / EXPUNGE command: keeps command lines
// short (Dovecot accepts 64 KB) while a whole pass is a few commands.
inline constexpr std::size_t k_move_batch = 500;

// Opens `folder` (UTF-8): EXAMINE (read-only) or, with `read_write`,
// SELECT. Fails with `config` when the server refuses it (no such folder),
// `transient` when it says it is busy (UNAVAILABLE, INUSE, LIMIT,
// SERVERBUG), `protocol` when the answer has no UIDVALIDITY.
core::Result<MailboxStatus> open_folder(Session &session, const std::string &folder,
                                        bool read_write);

// How this server lets pecbatch move messages: MOVE, else UIDPLUS (UID
// EXPUNGE of chosen UIDs), else none. Asks CAPABILITY again when the ones
// known list neither (a server may announce more after login).
core::Result<MoveMethod> move_method(Session &session);

// Moves `uids` (ascending, distinct) of the folder selected read-write to
// `target` (UTF-8) with `method` (not `none`), k_move_batch UIDs per
// command. On NO [TRYCREATE] the target is created (CREATE, then a
// best-effort SUBSCRIBE) and the command tried once more. With
// copy_expunge, messages are flagged \Deleted only after their copy
// succeeded, and only these UIDs are expunged. Fails with `config` when
// the target cannot be created, `transient` when the server reports a
// temporary condition (OVERQUOTA, UNAVAILABLE, INUSE, LIMIT, SERVERBUG),
// else `protocol`.
core::Result<MoveResult> move_uids(Session &session, MoveMethod method,
                                   const std::vector<std::uint64_t> &uids,
                                   const std::string &target);

// The size of the selected folder as the server reports it in untagged
// EXISTS and EXPUNGE responses, whatever the command: whether it grew
// since mark(). Feed it every untagged response (Session::set_observer).
class FolderWatch {
public:
  // A folder was opened with `exists` messages.
  void opened(std::uint64_t exists);
  // From now on, only growth after this point counts (called before
  // searching for new UIDs: what the search returns is known).
  void mark() { m_grew = false; }
  void observe(const Response &response);
  bool grew() const { return m_grew; }

private:
  std::uint64_t m_exists = 0;
  bool m_grew = false;
};

} // namespace pecbatch::receipts::imap
