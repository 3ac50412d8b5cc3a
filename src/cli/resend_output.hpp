#pragma once

// What `pecbatch retry` and `pecbatch resolve` share: who is acting (for
// the journal's events) and the listing of the rows to send again.

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

} // namespace pecbatch::cli
