#pragma once

// What `pecbatch retry` and `pecbatch resolve` share: who is acting (for
// the journal's events) and the listing of the rows to send again.

#include "exit_codes.hpp"
#include "output.hpp"

#include <pecbatch/campaign/retry.hpp>

#include <pwd.h>
#include <unistd.h>

#include <iostream>
#include <string>

namespace pecbatch::cli {

// "pecbatch retry --failed by mario: casella liberata": recorded in the
// events of the replaced and the new row.
inline std::string resend_detail(const std::string& command, const std::string& reason) {
  std::string who;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr) {
    who = pw->pw_name;
  } else {
    who = "uid " + std::to_string(::geteuid());
  }
  std::string detail = command;
  detail.append(" by ").append(who);
  if (!reason.empty()) {
    detail.append(": ").append(reason);
  }
  return detail;
}

// The last reply or receipt error of a row, for the listing.
inline std::string last_outcome(const journal::RowRecord& row) {
  std::string out;
  if (row.last_code != 0) {
    out.append(std::to_string(row.last_code));
  }
  if (!row.last_enhanced.empty() && row.last_text.find(row.last_enhanced) == std::string::npos) {
    out.append(out.empty() ? "" : " ").append(row.last_enhanced);
  }
  if (!row.last_text.empty()) {
    out.append(out.empty() ? "" : " ").append(row.last_text);
  }
  return out;
}

// One block per row: what it is, its Message-IDs old -> new, and why it is
// refused when it is.
inline void print_resend_rows(const campaign::ResendReport& report) {
  for (const auto& c : report.rows) {
    const auto& row = c.row;
    std::cout << "            row " << row.row << "  " << row.address << "  "
              << journal::to_string(row.state);
    if (const auto last = last_outcome(row); !last.empty()) {
      std::cout << "  " << last;
    }
    std::cout << "\n";
    if (!c.receipt_kinds.empty()) {
      std::cout << "              receipts recorded:";
      for (const auto& kind : c.receipt_kinds) {
        std::cout << " " << kind;
      }
      std::cout << "\n";
    }
    if (!c.refused.empty()) {
      std::cout << "              refused: " << c.refused << "\n";
      continue;
    }
    std::cout << "              " << row.message_id << "\n"
              << "           -> " << c.new_message_id << (c.requeued ? "  (queued)" : "")
              << "\n";
  }
}

inline std::string rows_word(std::uint64_t n) {
  return std::to_string(n) + (n == 1 ? " row" : " rows");
}

// The result line once rows were re-queued ("<n> rows <what> under new
// Message-IDs; 'pecbatch send ...' sends them"), and the exit code: 65 when
// some chosen rows cannot be sent again (listed as refused above).
inline void print_requeued(std::uint64_t requeued, const std::string& what,
                           const std::string& campaign) {
  std::cout << "result      " << rows_word(requeued) << " " << what << " under "
            << (requeued == 1 ? "a new Message-ID" : "new Message-IDs") << "; 'pecbatch send "
            << campaign << " --yes' sends " << (requeued == 1 ? "it" : "them") << "\n";
}

inline int resend_exit_code(std::uint64_t refused) {
  if (refused > 0) {
    print_error(rows_word(refused) + " cannot be sent again (see 'refused' above)");
    return k_exit_data;
  }
  return k_exit_ok;
}

} // namespace pecbatch::cli
