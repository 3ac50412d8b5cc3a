#include "imap_commands.hpp"

#include <algorithm>
#include <exception>
#include <optional>

namespace pecbatch::receipts {

const char *to_string(MoveMethod method) {
  switch (method) {
  case MoveMethod::none:
    return "none";
  case MoveMethod::move:
    return "UID MOVE";
  case MoveMethod::copy_expunge:
    return "UID COPY + UID STORE + UID EXPUNGE";
  }
  return "?";
}

} // namespace pecbatch::receipts

namespace pecbatch::receipts::imap {

namespace {

using core::ErrorKind;

// The first word of a response code, upper case ("TRYCREATE", "COPYUID").
std::string code_name(const Response &response) {
  std::string name = response.code.substr(0, response.code.find(' '));
  std::transform(name.begin(), name.end(), name.begin(), [](char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  });
  return name;
}

// Response codes of a NO that mean "later", not "never" (RFC 5530).
bool temporary(const Response &response) {
  const std::string name = code_name(response);
  return name == "UNAVAILABLE" || name == "INUSE" || name == "LIMIT" ||
         name == "SERVERBUG" || name == "OVERQUOTA";
}

std::string describe(const Response &response) {
  std::string out = response.status ? to_string(*response.status) : "?";
  if (!response.code.empty()) {
    out.append(" [").append(response.code).append("]");
  }
  if (!response.text.empty()) {
    out.append(" ").append(response.text);
  }
  return out;
}

std::optional<std::uint64_t> number_after(const std::string &code, std::string_view key) {
  if (!code.starts_with(key) || code.size() <= key.size() || code[key.size()] != ' ') {
    return std::nullopt;
  }
  try {
    return std::stoull(code.substr(key.size() + 1));
  } catch (const std::exception &) {
    return std::nullopt;
  }
}

// The mailbox name as a command argument: modified UTF-7, then quoted
// (7-bit after encoding: quoting always suffices).
core::Result<std::string> mailbox_argument(const std::string &folder) {
  PB_TRY_ASSIGN(const std::string encoded, encode_mailbox_name(folder));
  return quote_astring(encoded).value_or("\"\"");
}

// The COPYUID count of a reply: in the tagged OK (COPY) or an untagged OK
// before the EXPUNGEs (MOVE, RFC 6851 §4.3).
std::optional<std::uint64_t> copied(const Reply &reply) {
  if (const auto n = copyuid_count(reply.tagged.code)) {
    return n;
  }
  for (const auto &response : reply.untagged) {
    if (response.status == Status::ok) {
      if (const auto n = copyuid_count(response.code)) {
        return n;
      }
    }
  }
  return std::nullopt;
}

// CREATE `target`, then SUBSCRIBE it (best effort: so that mail clients
// show it). A NO [ALREADYEXISTS] is success: another client was quicker.
core::Status create_folder(Session &session, const std::string &target,
                           const std::string &argument) {
  PB_TRY_ASSIGN(const Reply created, session.command("CREATE " + argument));
  if (created.tagged.status != Status::ok && code_name(created.tagged) != "ALREADYEXISTS") {
    return session.error(ErrorKind::config, "cannot create folder \"" + target +
                                                "\" (poll.archive_folder): " +
                                                describe(created.tagged));
  }
  PB_TRY(session.command("SUBSCRIBE " + argument));
  return core::Ok{};
}

} // namespace

core::Result<MailboxStatus> open_folder(Session &session, const std::string &folder,
                                        bool read_write) {
  PB_TRY_ASSIGN(const std::string argument, mailbox_argument(folder));
  const char *verb = read_write ? "SELECT" : "EXAMINE";
  PB_TRY_ASSIGN(const Reply reply, session.command(std::string(verb) + " " + argument));
  if (reply.tagged.status != Status::ok) {
    const bool busy = code_name(reply.tagged) != "OVERQUOTA" && temporary(reply.tagged);
    return session.error(busy ? ErrorKind::transient : ErrorKind::config,
                         "cannot open folder \"" + folder + "\": " +
                             to_string(*reply.tagged.status) + " " + reply.tagged.text);
  }
  MailboxStatus status;
  bool have_uidvalidity = false;
  for (const auto &response : reply.untagged) {
    if (response.status == Status::ok && !response.code.empty()) {
      if (const auto v = number_after(response.code, "UIDVALIDITY")) {
        status.uidvalidity = *v;
        have_uidvalidity = true;
      } else if (const auto n = number_after(response.code, "UIDNEXT")) {
        status.uidnext = *n;
      }
    } else if (response.name == "EXISTS" && response.number) {
      status.exists = *response.number;
    }
  }
  if (!have_uidvalidity) {
    return session.error(ErrorKind::protocol, "no UIDVALIDITY in the answer to " +
                                                  std::string(verb) + " \"" + folder + "\"");
  }
  // RFC 3501 §6.3.1: the tagged OK of SELECT says READ-WRITE, or
  // READ-ONLY when the server only lets this user read.
  status.writable = read_write && code_name(reply.tagged) != "READ-ONLY";
  return status;
}

core::Result<MoveMethod> move_method(Session &session) {
  auto pick = [&]() -> std::optional<MoveMethod> {
    const auto &caps = session.capabilities();
    if (caps.count("MOVE") != 0) {
      return MoveMethod::move;
    }
    if (caps.count("UIDPLUS") != 0) {
      return MoveMethod::copy_expunge;
    }
    return std::nullopt;
  };
  if (const auto method = pick()) {
    return *method;
  }
  PB_TRY(session.refresh_capabilities());
  return pick().value_or(MoveMethod::none);
}

core::Result<MoveResult> move_uids(Session &session, MoveMethod method,
                                   const std::vector<std::uint64_t> &uids,
                                   const std::string &target) {
  MoveResult result;
  result.method = method;
  if (method == MoveMethod::none) {
    return session.error(ErrorKind::internal, "move_uids without a method");
  }
  PB_TRY_ASSIGN(const std::string argument, mailbox_argument(target));

  // One command, after a [TRYCREATE] once more with the target created.
  auto to_target = [&](const std::string &verb, const std::string &set) -> core::Result<Reply> {
    const std::string command = "UID " + verb + " " + set + " " + argument;
    PB_TRY_ASSIGN(Reply reply, session.command(command));
    if (reply.tagged.status == Status::no && code_name(reply.tagged) == "TRYCREATE" &&
        !result.created) {
      PB_TRY(create_folder(session, target, argument));
      result.created = true;
      PB_TRY_ASSIGN(reply, session.command(command));
    }
    if (reply.tagged.status != Status::ok) {
      return session.error(temporary(reply.tagged) ? ErrorKind::transient
                                                   : ErrorKind::protocol,
                           "UID " + verb + " to \"" + target +
                               "\" refused: " + describe(reply.tagged));
    }
    return reply;
  };
  // The flag and expunge steps of copy_expunge must succeed as asked.
  auto expect_ok = [&](const std::string &command) -> core::Status {
    PB_TRY_ASSIGN(const Reply reply, session.command(command));
    if (reply.tagged.status != Status::ok) {
      return session.error(temporary(reply.tagged) ? ErrorKind::transient
                                                   : ErrorKind::protocol,
                           command.substr(0, command.find(' ', 4)) +
                               " refused: " + describe(reply.tagged));
    }
    return core::Ok{};
  };

  for (std::size_t i = 0; i < uids.size(); i += k_move_batch) {
    const std::vector<std::uint64_t> batch(
        uids.begin() + static_cast<std::ptrdiff_t>(i),
        uids.begin() + static_cast<std::ptrdiff_t>(std::min(i + k_move_batch, uids.size())));
    const std::string set = uid_set(batch);
    if (method == MoveMethod::move) {
      PB_TRY_ASSIGN(const Reply reply, to_target("MOVE", set));
      result.moved += copied(reply).value_or(batch.size());
    } else {
      PB_TRY_ASSIGN(const Reply reply, to_target("COPY", set));
      // Only what is safely copied is flagged, and only these UIDs are
      // expunged: messages a user marked \Deleted stay where they are.
      PB_TRY(expect_ok("UID STORE " + set + " +FLAGS.SILENT (\\Deleted)"));
      PB_TRY(expect_ok("UID EXPUNGE " + set));
      result.moved += copied(reply).value_or(batch.size());
    }
  }
  return result;
}

void FolderWatch::opened(std::uint64_t exists) {
  m_exists = exists;
  m_grew = false;
}

void FolderWatch::observe(const Response &response) {
  if (response.type != Response::Type::untagged || !response.number) {
    return;
  }
  if (response.name == "EXISTS") {
    if (*response.number > m_exists) {
      m_grew = true;
    }
    m_exists = *response.number;
  } else if (response.name == "EXPUNGE" && m_exists > 0) {
    --m_exists;
  }
}

} // namespace pecbatch::receipts::imap
