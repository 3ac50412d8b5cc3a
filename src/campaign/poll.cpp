#include <pecbatch/campaign/poll.hpp>

#include <pecbatch/campaign/evidence.hpp>
#include <pecbatch/campaign/lock.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/compose/message.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/hash.hpp>
#include <pecbatch/core/strings.hpp>
#include <pecbatch/receipts/message.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <set>

namespace pecbatch::campaign {

using core::ErrorKind;
using core::make_error;
using journal::State;
using receipts::Kind;
using receipts::MessageClass;

namespace {

constexpr auto k_first_interval = std::chrono::milliseconds(2'000);
constexpr auto k_max_interval = std::chrono::milliseconds(60'000);
// Waits are sliced so that a signal is noticed quickly.
constexpr auto k_sleep_slice = std::chrono::milliseconds(200);

// The label of a message in its archive file name.
std::string kind_label(const receipts::ParsedMessage* message) {
  if (message == nullptr) {
    return "unreadable";
  }
  if (message->kind) {
    return receipts::to_string(*message->kind);
  }
  return receipts::to_string(message->message_class);
}

// "5.1.1" from "5.1.1 - indirizzo non valido"; "" when the text does not
// start with an RFC 3463 code.
std::string enhanced_code(const std::string& errore_esteso) {
  const auto end = errore_esteso.find_first_of(" \t");
  const std::string token = errore_esteso.substr(0, end);
  int dots = 0;
  for (const char c : token) {
    if (c == '.') {
      ++dots;
    } else if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
      return "";
    }
  }
  return dots == 2 && !token.empty() && token.front() != '.' ? token : "";
}

bool is_external(const receipts::Daticert& daticert, const std::string& address) {
  return std::any_of(daticert.destinatari.begin(), daticert.destinatari.end(),
                     [&](const receipts::Recipient& r) {
                       return core::iequals_ascii(r.address, address) &&
                              core::iequals_ascii(r.tipo, "esterno");
                     });
}

// What a valid receipt does to `row` (PROTOCOL.md §7.5); nullopt when it
// does nothing (presa-in-carico, or another recipient's notice).
std::optional<journal::ReceiptEffect> effect_of(const receipts::ParsedMessage& message,
                                                const journal::RowRecord& row) {
  if (!message.kind || !message.daticert) {
    return std::nullopt;
  }
  const auto& d = *message.daticert;
  const std::string consegna = d.consegna.value_or("");
  const std::string errore = d.errore.value_or("");
  const std::string esteso = d.errore_esteso.value_or("");
  journal::ReceiptEffect effect;
  effect.row_id = row.id;
  effect.detail = std::string("receipt ") + receipts::to_string(*message.kind);
  if (!d.identificativo.value_or("").empty()) {
    effect.detail += " " + *d.identificativo;
  }
  auto set_error_text = [&] {
    if (!esteso.empty() || (!errore.empty() && errore != "nessuno")) {
      effect.text = errore.empty() ? esteso : esteso.empty() ? errore : errore + ": " + esteso;
      effect.enhanced = enhanced_code(esteso);
    }
  };
  // Per-recipient notices must name this row's recipient.
  auto for_this_recipient = [&] { return core::iequals_ascii(consegna, row.address); };
  switch (*message.kind) {
  case Kind::accettazione:
    effect.steps.push_back(State::accepted);
    if (is_external(d, row.address)) {
      effect.steps.push_back(State::sent_external);
    }
    break;
  case Kind::non_accettazione:
    effect.steps.push_back(State::rejected);
    set_error_text();
    break;
  case Kind::avvenuta_consegna:
    if (!for_this_recipient()) {
      return std::nullopt;
    }
    effect.steps.push_back(State::delivered);
    break;
  case Kind::errore_consegna:
    if (!for_this_recipient()) {
      return std::nullopt;
    }
    effect.steps.push_back(State::delivery_failed);
    set_error_text();
    break;
  case Kind::preavviso_errore_consegna:
    if (!for_this_recipient()) {
      return std::nullopt;
    }
    // The 24 h notice says 5.x (final), the 12 h one 4.x (PROTOCOL.md §7.4).
    effect.steps.push_back(esteso.starts_with("5.") ? State::failed_timeout
                                                     : State::delayed);
    set_error_text();
    break;
  default:
    return std::nullopt;
  }
  return effect;
}

// The Message-ID prefix of this campaign ("pecbatch.<campaign>."): a
// message referencing an id with it but no row is an orphan.
std::string message_id_prefix(const config::Campaign& campaign) {
  const std::string sample = compose::make_message_id(campaign.id, "x@x.invalid", "x.invalid");
  const auto first = sample.find('.');
  const auto second = first == std::string::npos ? first : sample.find('.', first + 1);
  return second == std::string::npos ? sample : sample.substr(0, second + 1);
}

// How many new UIDs are examined per header fetch; the cursor moves past
// the skipped ones at the end of each batch.
constexpr std::size_t k_header_batch = 200;

class Poller {
public:
  Poller(const config::Campaign& campaign, const PollDeps& deps, journal::Journal& journal,
         const receipts::SignatureVerifier& verifier)
      : m_campaign(campaign), m_deps(deps), m_journal(journal), m_verifier(verifier),
        m_prefix(message_id_prefix(campaign)) {}

  bool stopping() const { return m_deps.stop != nullptr && m_deps.stop->load(); }

  void notice(const std::string& text) {
    if (m_deps.observer != nullptr) {
      m_deps.observer->on_notice(text);
    }
  }

  PollCounts& counts() {
    m_counts.bytes = m_bytes_before + (m_mailbox ? m_mailbox->bytes_received() : 0);
    return m_counts;
  }
  std::vector<Orphan>& orphans() { return m_orphans; }

  // One pass: every folder's new messages, then the uncertain rows.
  core::Status pass() {
    if (!m_mailbox) {
      m_mailbox = m_deps.mailbox();
      if (!m_mailbox) {
        return make_error(ErrorKind::internal, "no mailbox");
      }
    }
    ++m_counts.passes;
    PB_TRY_ASSIGN(const auto searchable, uncertain_rows_to_search());
    std::map<std::uint64_t, std::string> validities;  // this pass: UIDVALIDITY -> folder
    for (const auto& folder : m_campaign.poll.folders) {
      if (stopping()) {
        return core::Ok{};
      }
      PB_TRY_ASSIGN(const auto status, m_mailbox->select(folder));
      // Receipts are keyed by (UIDVALIDITY, UID): two folders sharing a
      // UIDVALIDITY could not be told apart.
      const auto [other, inserted] = validities.emplace(status.uidvalidity, folder);
      if (!inserted) {
        return make_error(ErrorKind::config,
                          "poll.folders: \"" + other->second + "\" and \"" + folder +
                              "\" have the same UIDVALIDITY " +
                              std::to_string(status.uidvalidity) +
                              "; pecbatch cannot tell their messages apart: poll only one");
      }
      m_to_move.clear();
      PB_TRY(scan_folder(folder, status));
      PB_TRY(search_uncertain(folder, status.uidvalidity, searchable));
      PB_TRY(move_to_archive(folder, status.uidvalidity));
    }
    return settle_uncertain_from_journal();
  }

  void drop_mailbox() {
    if (m_mailbox) {
      m_bytes_before += m_mailbox->bytes_received();
    }
    m_mailbox.reset();
    // What a failed pass recorded and did not move is found again.
    m_swept.clear();
    m_to_move.clear();
  }

  // The wait before the next pass, `wait` long: with IMAP IDLE when the
  // campaign reads a single folder and the server offers it (over in
  // k_max_idle pieces, ended early by new mail), else asleep in slices.
  // Returns early on a stop request.
  void wait_for_next_pass(std::chrono::milliseconds wait) {
    bool idle = m_mailbox != nullptr && m_campaign.poll.folders.size() == 1;
    while (wait.count() > 0 && !stopping()) {
      if (idle) {
        const auto piece = std::min(wait, k_max_idle);
        auto waited = m_mailbox->wait_for_mail(piece, [this] { return stopping(); });
        if (!waited.ok()) {
          notice("waiting for new mail (IMAP IDLE) failed, sleeping instead: " +
                 waited.error().message);
          drop_mailbox();
          idle = false;
          continue;
        }
        switch (*waited) {
        case receipts::WaitResult::new_mail:
          ++m_counts.idle_wakeups;
          return;
        case receipts::WaitResult::stopped:
          return;
        case receipts::WaitResult::timed_out:
          wait -= piece;
          continue;
        case receipts::WaitResult::unsupported:
          idle = false;
          continue;
        }
      }
      const auto slice = std::min(wait, std::chrono::milliseconds(k_sleep_slice));
      m_deps.clock->sleep_for(slice);
      wait -= slice;
    }
  }

  // The end of a pass: the no-receipt deadline (only after a pass that read
  // the whole mailbox: unread messages may be the receipts), then the
  // evidence manifests of the rows touched in this pass and the campaign
  // manifest.
  core::Status finish_pass(bool read_everything) {
    if (read_everything) {
      PB_TRY(apply_deadline());
    }
    std::map<std::int64_t, std::string> fresh;
    for (const std::int64_t id : m_touched) {
      PB_TRY_ASSIGN(const auto row, m_journal.get(id));
      PB_TRY_ASSIGN(auto hash, write_row_evidence(m_campaign, m_journal, row, m_verifier));
      fresh.emplace(id, std::move(hash));
    }
    m_touched.clear();
    return write_campaign_manifest(m_campaign, m_journal, fresh, m_verifier);
  }

  // Uncertain rows past the grace window (no more searching).
  core::Result<std::uint64_t> needs_decision() {
    const auto now = m_deps.clock->now();
    const auto grace = std::chrono::hours(m_campaign.poll.uncertain_grace_hours);
    std::uint64_t n = 0;
    PB_TRY(m_journal.for_each({State::uncertain}, [&](const journal::RowRecord& row) {
      n += now - row.updated >= grace ? 1 : 0;
      return true;
    }));
    return n;
  }

private:
  bool archiving() const {
    return !m_campaign.poll.archive_folder.empty() && !m_archive_off;
  }

  // A recorded message that is this campaign's evidence: archived, and
  // naming one of its rows or a Message-ID of its form (an orphan).
  // Only these are ever moved; unreadable messages and everything else
  // stay where they are.
  bool is_campaign_evidence(const journal::ReceiptRecord& record) const {
    return !record.file.empty() &&
           (record.row_id.has_value() || record.message_id.starts_with(m_prefix));
  }

  // poll.archive_folder: moves the messages of `folder` archived and
  // recorded in this pass, plus (at the first pass of a run and after a
  // failure) those recorded earlier and still there, e.g. when a run was
  // killed between recording and moving. Everything to move is on disk
  // and in the journal first: files fsync'ed (and their directory entries,
  // syncfs), journal commits synchronous. A move that fails is reported
  // and tried again later; it never fails the pass.
  core::Status move_to_archive(const std::string& folder, std::uint64_t uidvalidity) {
    if (!archiving() || stopping()) {
      return core::Ok{};
    }
    std::set<std::uint64_t> uids(m_to_move.begin(), m_to_move.end());
    m_to_move.clear();
    if (m_swept.insert(folder).second) {
      auto swept = sweep(uidvalidity, uids);
      if (!swept.ok()) {
        if (swept.error().kind == ErrorKind::io) {
          return swept.error();  // the journal
        }
        m_swept.erase(folder);
        notice("poll.archive_folder: cannot look for receipts left in " + folder +
               " by an earlier run: " + swept.error().message + "; tried again later");
      }
    }
    if (uids.empty()) {
      return core::Ok{};
    }
    PB_TRY(core::sync_filesystem(m_campaign.output_dir));
    const std::string& target = m_campaign.poll.archive_folder;
    const std::vector<std::uint64_t> list(uids.begin(), uids.end());
    auto moved = m_mailbox->move(folder, uidvalidity, list, target);
    if (!moved.ok()) {
      notice("poll.archive_folder: " + std::to_string(list.size()) +
             " archived messages could not be moved from " + folder + " to " + target + ": " +
             moved.error().message +
             (moved.error().kind == ErrorKind::config
                  ? "; no more moves in this run"
                  : "; they stay there and are moved at a later pass"));
      if (moved.error().kind == ErrorKind::config) {
        m_archive_off = true;
      } else {
        m_swept.erase(folder);
      }
      return core::Ok{};
    }
    if (moved->method == receipts::MoveMethod::none) {
      notice("poll.archive_folder: the IMAP server offers neither MOVE nor UIDPLUS, so "
             "receipts are not moved to " + target +
             " (without UID EXPUNGE, removing them would also delete any other message "
             "marked \\Deleted); they stay in " + folder + ", polling goes on");
      m_archive_off = true;
      return core::Ok{};
    }
    if (moved->created) {
      notice("poll.archive_folder: created folder " + target);
    }
    m_counts.moved += moved->moved;
    return core::Ok{};
  }

  // Adds to `uids` the messages of the folder open that the journal
  // recorded, under this UIDVALIDITY, as this campaign's evidence: a
  // header search for the campaign's Message-ID form (every message
  // pecbatch fetches carries it in X-Riferimento-Message-ID) filtered by
  // the journal.
  core::Status sweep(std::uint64_t uidvalidity, std::set<std::uint64_t>& uids) {
    PB_TRY_ASSIGN(const auto found,
                  m_mailbox->search_header("X-Riferimento-Message-ID", m_prefix));
    if (found.empty()) {
      return core::Ok{};
    }
    PB_TRY_ASSIGN(const auto records, m_journal.receipts());
    std::set<std::uint64_t> ours;
    for (const auto& record : records) {
      if (record.uidvalidity == uidvalidity && is_campaign_evidence(record)) {
        ours.insert(record.uid);
      }
    }
    for (const auto uid : found) {
      if (ours.count(uid) != 0) {
        uids.insert(uid);
      }
    }
    return core::Ok{};
  }

  // The new messages of one folder, in UID order, headers first.
  core::Status scan_folder(const std::string& folder, const receipts::MailboxStatus& status) {
    const std::uint64_t uidvalidity = status.uidvalidity;
    PB_TRY_ASSIGN(auto cursor, m_journal.folder_cursor(folder));
    if (!cursor || cursor->uidvalidity != uidvalidity) {
      if (cursor) {
        notice("folder " + folder + ": UIDVALIDITY changed (" +
               std::to_string(cursor->uidvalidity) + " -> " + std::to_string(uidvalidity) +
               "): reading it again from the start; receipts already recorded are not "
               "counted twice");
      }
      cursor = journal::MailboxCursor{uidvalidity, 0};
      PB_TRY(m_journal.set_folder_cursor(folder, *cursor));
    }
    PB_TRY_ASSIGN(const auto uids, m_mailbox->uids_since(cursor->last_uid));
    for (std::size_t i = 0; i < uids.size(); i += k_header_batch) {
      const std::size_t end = std::min(i + k_header_batch, uids.size());
      // A UID already recorded (a lost cursor) is not read again.
      std::vector<std::uint64_t> todo;
      for (std::size_t k = i; k < end; ++k) {
        PB_TRY_ASSIGN(const bool seen, m_journal.has_receipt(uidvalidity, uids[k]));
        if (seen) {
          ++m_counts.already_seen;
        } else {
          todo.push_back(uids[k]);
        }
      }
      std::map<std::uint64_t, receipts::HeaderBlock> blocks;
      if (!todo.empty()) {
        PB_TRY_ASSIGN(auto fetched, m_mailbox->fetch_headers(todo));
        for (auto& block : fetched) {
          blocks.emplace(block.uid, std::move(block));
        }
      }
      for (const std::uint64_t uid : todo) {
        if (stopping()) {
          return core::Ok{};
        }
        const auto block = blocks.find(uid);
        if (block == blocks.end()) {
          ++m_counts.vanished;
          notice("folder " + folder + ": message UID " + std::to_string(uid) +
                 " vanished before it was read");
          continue;
        }
        ++m_counts.examined;
        PB_TRY_ASSIGN(const auto wanted, wants(block->second));
        if (!wanted) {
          ++m_counts.skipped;
          continue;
        }
        PB_TRY(fetch_and_record(folder, uidvalidity, uid, false));
      }
      // Every UID of the batch is handled: the cursor passes the skipped ones.
      PB_TRY(m_journal.set_folder_cursor(folder, {uidvalidity, uids[end - 1]}));
    }
    return core::Ok{};
  }

  // Whether a message is worth fetching: a receipt or a provider envelope
  // (X-Ricevuta / X-Trasporto) that references one of our rows, or an id
  // of this campaign's form (an orphan).
  core::Result<bool> wants(const receipts::HeaderBlock& block) {
    const auto headers = receipts::parse_candidate_headers(block.headers);
    if (!headers.from_provider() || !headers.x_riferimento_message_id) {
      return false;
    }
    const std::string& ref = *headers.x_riferimento_message_id;
    if (ref.starts_with(m_prefix)) {
      return true;
    }
    PB_TRY_ASSIGN(const auto row, m_journal.find_by_message_id(ref));
    return row.has_value();
  }

  // Uncertain rows still within the grace window.
  core::Result<std::vector<journal::RowRecord>> uncertain_rows_to_search() {
    const auto now = m_deps.clock->now();
    const auto grace = std::chrono::hours(m_campaign.poll.uncertain_grace_hours);
    std::vector<journal::RowRecord> rows;
    PB_TRY(m_journal.for_each({State::uncertain}, [&](const journal::RowRecord& row) {
      if (now - row.updated < grace) {
        rows.push_back(row);
      }
      return true;
    }));
    return rows;
  }

  // UID SEARCH HEADER X-Riferimento-Message-ID for each uncertain row over
  // the whole folder; what was not recorded yet is fetched and recorded
  // (without moving the cursor: a search says nothing about other UIDs).
  core::Status search_uncertain(const std::string& folder, std::uint64_t uidvalidity,
                                const std::vector<journal::RowRecord>& rows) {
    for (const auto& row : rows) {
      if (stopping()) {
        return core::Ok{};
      }
      PB_TRY_ASSIGN(const auto current, m_journal.get(row.id));
      if (current.state != State::uncertain) {
        continue;
      }
      ++m_counts.searched;
      PB_TRY_ASSIGN(const auto uids,
                    m_mailbox->search_header("X-Riferimento-Message-ID", row.message_id));
      for (const std::uint64_t uid : uids) {
        PB_TRY_ASSIGN(const bool seen, m_journal.has_receipt(uidvalidity, uid));
        if (seen) {
          continue;  // recorded: settle_uncertain_from_journal() applies it
        }
        ++m_counts.found_by_search;
        PB_TRY(fetch_and_record(folder, uidvalidity, uid, true));
      }
    }
    return core::Ok{};
  }

  // An uncertain row whose receipts were recorded before it became
  // uncertain (e.g. polled while it was still `submitting`): they apply now.
  core::Status settle_uncertain_from_journal() {
    std::vector<journal::RowRecord> rows;
    PB_TRY(m_journal.for_each({State::uncertain}, [&](const journal::RowRecord& row) {
      rows.push_back(row);
      return true;
    }));
    for (const auto& row : rows) {
      PB_TRY_ASSIGN(const auto records, m_journal.receipts_for(row.message_id));
      bool settled = false;
      for (const auto& record : records) {
        if (record.signature != "valid" || record.file.empty()) {
          continue;
        }
        auto bytes = core::read_file(m_campaign.output_dir / record.file);
        if (!bytes.ok()) {
          notice("receipt " + record.file + " cannot be read again: " + bytes.error().message);
          continue;
        }
        auto parsed = receipts::parse_message(std::move(*bytes));
        if (!parsed.ok() || parsed->message_class != MessageClass::receipt ||
            m_verifier.verify(*parsed).status != receipts::SignatureStatus::valid ||
            parsed->msgid != row.message_id) {
          continue;
        }
        const auto effect = effect_of(*parsed, row);
        if (!effect) {
          continue;
        }
        PB_TRY_ASSIGN(const auto applied,
                      m_journal.apply_receipt_effect(*effect, m_deps.clock->now()));
        m_counts.applied += applied.size();
        settled = settled || !applied.empty();
      }
      if (settled) {
        ++m_counts.settled;
        m_touched.insert(row.id);
      }
    }
    return core::Ok{};
  }

  // Rows submitted or accepted with no final receipt past the deadline
  // become no_receipt. Measured from the accettazione's time when known
  // (never earlier than the submission), else from the submission.
  core::Status apply_deadline() {
    const auto now = m_deps.clock->now();
    const auto deadline = std::chrono::hours(m_campaign.poll.no_receipt_after_hours);
    struct Candidate {
      std::int64_t id;
      std::string message_id;
      State state;
      core::TimePoint since;
    };
    std::vector<Candidate> candidates;
    auto collect = [&](const journal::RowRecord& row) {
      const auto since = row.submitted == core::TimePoint{} ? row.updated : row.submitted;
      // The acceptance never counts before the submission: only these can
      // be overdue.
      if (now - since >= deadline) {
        candidates.push_back({row.id, row.message_id, row.state, since});
      }
      return true;
    };
    PB_TRY(m_journal.for_each({State::submitted, State::accepted}, collect));
    for (auto& c : candidates) {
      if (c.state == State::accepted) {
        PB_TRY_ASSIGN(const auto records, m_journal.receipts_for(c.message_id));
        for (const auto& r : records) {
          if (r.kind == "accettazione" && r.signature == "valid" && r.row_id == c.id) {
            if (const auto t = parse_receipt_time(r.time)) {
              c.since = std::max(c.since, *t);
            }
          }
        }
        if (now - c.since < deadline) {
          continue;
        }
      }
      journal::Transition t;
      t.at = now;
      t.detail = "no final receipt within " +
                 std::to_string(m_campaign.poll.no_receipt_after_hours) + " h";
      auto moved = m_journal.transition(c.id, State::no_receipt, t);
      if (!moved.ok()) {
        if (moved.error().kind == ErrorKind::internal) {
          continue;  // its state changed meanwhile
        }
        return moved.error();
      }
      ++m_counts.no_receipt;
      m_touched.insert(c.id);
    }
    return core::Ok{};
  }

  // Fetches message `uid` whole, archives it, verifies it and records it
  // with its effect. `from_search`: found by a search, the folder's cursor
  // is left alone.
  core::Status fetch_and_record(const std::string& folder, std::uint64_t uidvalidity,
                                std::uint64_t uid, bool from_search) {
    const std::optional<std::string> cursor_folder =
        from_search ? std::nullopt : std::optional<std::string>(folder);
    auto fetched = m_mailbox->fetch(uid);
    if (!fetched.ok()) {
      if (fetched.error().kind == ErrorKind::permanent) {
        // Expunged between SEARCH and FETCH: nothing to keep.
        ++m_counts.vanished;
        notice("folder " + folder + ": message UID " + std::to_string(uid) +
               " vanished before it was read: " + fetched.error().message);
        return cursor_folder ? m_journal.set_folder_cursor(folder, {uidvalidity, uid})
                             : core::Status(core::Ok{});
      }
      return fetched.error();
    }
    std::string bytes = std::move(*fetched);
    ++m_counts.fetched;
    m_counts.message_bytes += bytes.size();

    journal::ReceiptRecord record;
    record.uid = uid;
    record.uidvalidity = uidvalidity;
    record.sha256 = core::sha256_hex(bytes);
    record.at = m_deps.clock->now();

    auto parsed = receipts::parse_message(bytes);
    const receipts::ParsedMessage* message = parsed.ok() ? &*parsed : nullptr;
    std::optional<journal::RowRecord> row;
    if (message != nullptr && message->msgid) {
      PB_TRY_ASSIGN(row, m_journal.find_by_message_id(*message->msgid));
    }
    if (row) {
      m_touched.insert(row->id);
    }

    // The archive: under the row's evidence when the message names one of
    // our Message-IDs (never a path built from an unknown id).
    const auto dir = row ? receipts_dir(m_campaign, row->message_id) : unmatched_dir(m_campaign);
    const auto file = dir / (std::to_string(uidvalidity) + "-" + std::to_string(uid) + "-" +
                             kind_label(message) + ".eml");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return make_error(ErrorKind::io, dir.string() + ": " + ec.message());
    }
    PB_TRY(core::write_file_atomic(file, bytes));
    record.file = file.lexically_relative(m_campaign.output_dir).generic_string();

    if (!row) {
      // Named a Message-ID of this campaign's form that no row has.
      const std::string referenced =
          message != nullptr && message->msgid ? *message->msgid
          : message != nullptr && message->headers.x_riferimento_message_id
              ? *message->headers.x_riferimento_message_id
              : std::string();
      if (referenced.starts_with(m_prefix)) {
        ++m_counts.orphans;
        m_orphans.push_back(
            Orphan{folder, uidvalidity, uid, referenced, kind_label(message), record.file});
        notice("orphan receipt UID " + std::to_string(uid) + " in " + folder + ": " +
               referenced + " matches no row; kept in " + file.string());
      }
    }

    std::optional<journal::ReceiptEffect> effect;
    if (message == nullptr) {
      ++m_counts.other;
      notice("message UID " + std::to_string(uid) + " is not a mail message (" +
             parsed.error().message + "); kept in " + file.string());
    } else {
      const auto report = m_verifier.verify(*message);
      record.signature = receipts::to_string(report.status);
      record.kind = message->kind ? receipts::to_string(*message->kind) : "";
      record.message_id = message->msgid.value_or("");
      if (message->daticert) {
        const auto& d = *message->daticert;
        record.identificativo = d.identificativo.value_or("");
        record.consegna = d.consegna.value_or("");
        record.errore = d.errore.value_or("");
        record.errore_esteso = d.errore_esteso.value_or("");
        record.time = d.time.value_or("");
      }
      if (row) {
        record.row_id = row->id;
      }
      PB_TRY_ASSIGN(const bool duplicate, m_journal.has_receipt_sha256(record.sha256));
      if (message->message_class != MessageClass::receipt) {
        ++m_counts.other;
      } else if (report.status != receipts::SignatureStatus::valid) {
        ++m_counts.untrusted;
        notice("receipt UID " + std::to_string(uid) + " (" + kind_label(message) +
               ") ignored: signature " + record.signature +
               (report.reason.empty() ? "" : " (" + report.reason + ")") + "; kept in " +
               file.string());
      } else if (duplicate) {
        ++m_counts.duplicates;
      } else if (!row) {
        ++m_counts.unmatched;
      } else {
        effect = effect_of(*message, *row);
        if (effect) {
          ++m_counts.receipts;
        } else if (message->kind != Kind::presa_in_carico) {
          ++m_counts.unmatched;
        }
      }
    }
    PB_TRY_ASSIGN(const auto outcome,
                  m_journal.record_receipt_in(cursor_folder, record, effect));
    if (!outcome.recorded) {
      ++m_counts.already_seen;  // another process got there first
    }
    // Archived and durably recorded (by us or that process): may move.
    if (archiving() && is_campaign_evidence(record)) {
      m_to_move.push_back(uid);
    }
    m_counts.applied += outcome.applied.size();
    if (row && !outcome.applied.empty() && row->state == State::uncertain) {
      ++m_counts.settled;
    }
    return core::Ok{};
  }

  const config::Campaign& m_campaign;
  const PollDeps& m_deps;
  journal::Journal& m_journal;
  const receipts::SignatureVerifier& m_verifier;
  std::string m_prefix;
  std::unique_ptr<receipts::Mailbox> m_mailbox;
  std::uint64_t m_bytes_before = 0;  // bytes received by mailboxes dropped earlier
  PollCounts m_counts;
  std::vector<Orphan> m_orphans;
  std::set<std::int64_t> m_touched;  // rows whose evidence changed in this pass
  // poll.archive_folder: UIDs of the current folder to move at its end;
  // folders swept for earlier ones in this run; moves given up for the run.
  std::vector<std::uint64_t> m_to_move;
  std::set<std::string> m_swept;
  bool m_archive_off = false;
};

core::Result<std::uint64_t> pending_rows(journal::Journal& journal) {
  PB_TRY_ASSIGN(const auto counts, journal.counts());
  std::uint64_t pending = 0;
  for (const auto& [state, n] : counts) {
    if (is_awaiting_receipts(state)) {
      pending += n;
    }
  }
  return pending;
}

// Errors worth another pass later (network, server busy); the others stop.
bool retry_later(const core::Error& error) {
  return error.kind == ErrorKind::transient || error.kind == ErrorKind::protocol;
}

} // namespace

bool is_awaiting_receipts(State state) {
  switch (state) {
  case State::submitted:
  case State::uncertain:
  case State::accepted:
  case State::delayed:
    return true;
  default:
    return false;
  }
}

std::optional<core::TimePoint> parse_receipt_time(const std::string& text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour,
                  &minute, &second, &consumed) != 6 ||
      month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  std::string_view rest(text);
  rest.remove_prefix(static_cast<std::size_t>(consumed));
  long offset_seconds = 0;
  if (!rest.empty() && rest != "Z") {
    int oh = 0, om = 0;
    const char sign = rest.front();
    if ((sign != '+' && sign != '-') || rest.size() != 6 || rest[3] != ':' ||
        std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) != 2 ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_seconds = (sign == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t utc = ::timegm(&tm) - offset_seconds;
  return core::from_unix_ms(static_cast<long long>(utc) * 1000);
}

receipts::ImapSettings imap_settings(const config::Campaign& campaign, std::string password) {
  receipts::ImapSettings settings;
  const auto& account = campaign.account;
  settings.host = account.imap_host;
  settings.security = account.imap_security == config::Security::starttls
                          ? receipts::ImapSecurity::starttls
                          : receipts::ImapSecurity::tls;
  settings.port = account.imap_port != 0
                      ? account.imap_port
                      : (settings.security == receipts::ImapSecurity::tls ? 993 : 143);
  settings.username = account.username.empty() ? account.address : account.username;
  settings.password = std::move(password);
  settings.ca_file = account.ca_file;
  settings.connect_timeout = std::chrono::seconds(campaign.send.connect_timeout_seconds);
  settings.transfer_timeout = std::chrono::seconds(campaign.send.timeout_seconds);
  return settings;
}

std::filesystem::path receipts_dir(const config::Campaign& campaign,
                                   const std::string& message_id) {
  return evidence_dir(campaign, message_id) / "receipts";
}

std::filesystem::path unmatched_dir(const config::Campaign& campaign) {
  return campaign.output_dir / "evidence" / "_unmatched";
}

core::Result<PollReport> poll_campaign(const config::Campaign& campaign,
                                       const PollOptions& options, const PollDeps& deps) {
  if (!deps.mailbox || deps.clock == nullptr) {
    return make_error(ErrorKind::internal, "poll_campaign: missing dependencies");
  }
  const auto journal_file = journal_path(campaign);
  if (!std::filesystem::exists(journal_file)) {
    return make_error(ErrorKind::config, "campaign " + core::quote(campaign.id) +
                                             " has no journal yet (" + journal_file.string() +
                                             "): nothing was sent, run 'pecbatch send' first");
  }
  PB_TRY_ASSIGN(auto lock, CampaignLock::acquire(campaign.output_dir));
  PB_TRY_ASSIGN(auto journal, journal::Journal::open(journal_file, campaign.id));

  std::unique_ptr<receipts::SignatureVerifier> own_verifier;
  const receipts::SignatureVerifier* verifier = deps.verifier;
  if (verifier == nullptr) {
    receipts::TrustOptions trust;
    if (campaign.account.ca_file) {
      trust.ca_files.push_back(*campaign.account.ca_file);
    }
    PB_TRY_ASSIGN(own_verifier, receipts::make_openssl_verifier(trust));
    verifier = own_verifier.get();
  }

  Poller poller(campaign, deps, journal, *verifier);
  PollReport report;
  const auto start = deps.clock->now();
  auto interval = options.interval.value_or(k_first_interval);
  for (;;) {
    auto status = poller.pass();
    if (status.ok()) {
      status = poller.finish_pass(!poller.stopping());
    } else {
      // What this pass did record is archived all the same.
      (void)poller.finish_pass(false);
    }
    if (!status.ok()) {
      if (!options.until_final || !retry_later(status.error())) {
        return status.error();
      }
      poller.notice("poll failed, trying again later: " + status.error().message);
      poller.drop_mailbox();
    }
    PB_TRY_ASSIGN(report.pending, pending_rows(journal));
    PB_TRY_ASSIGN(report.needs_decision, poller.needs_decision());
    if (deps.observer != nullptr) {
      deps.observer->on_pass(poller.counts(), report.pending);
    }
    if (poller.stopping()) {
      report.interrupted = true;
      break;
    }
    // Uncertain rows past their grace window wait for a person, not for
    // the mailbox.
    if (!options.until_final || report.pending <= report.needs_decision) {
      break;
    }
    auto wait = interval;
    if (options.timeout.count() > 0) {
      const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
          deps.clock->now() - start);
      if (elapsed >= options.timeout) {
        report.timed_out = true;
        break;
      }
      wait = std::min(wait, options.timeout - elapsed);
    }
    poller.wait_for_next_pass(wait);
    if (poller.stopping()) {
      report.interrupted = true;
      break;
    }
    if (!options.interval) {
      interval = std::min(interval * 2, std::chrono::milliseconds(k_max_interval));
    }
  }
  report.counts = poller.counts();
  report.orphans = std::move(poller.orphans());
  PB_TRY_ASSIGN(report.states, journal.counts());
  return report;
}

} // namespace pecbatch::campaign
