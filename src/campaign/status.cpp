#include <pecbatch/campaign/status.hpp>

#include <pecbatch/campaign/send.hpp>
#include <pecbatch/campaign/validate.hpp>
#include <pecbatch/core/strings.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

namespace pecbatch::campaign {

using core::ErrorKind;
using core::make_error;
using journal::State;

StateGroup group_of(State state) {
  switch (state) {
  case State::queued:
  case State::sending:
  case State::deferred:
    return StateGroup::to_send;
  case State::delivered:
  case State::sent_external:
    return StateGroup::success;
  case State::failed:
  case State::rejected:
  case State::delivery_failed:
  case State::failed_timeout:
  case State::no_receipt:
  case State::abandoned:
    return StateGroup::failure;
  default:
    return StateGroup::awaiting_receipts;
  }
}

const char* to_string(StateGroup group) {
  switch (group) {
  case StateGroup::to_send: return "to_send";
  case StateGroup::awaiting_receipts: return "awaiting_receipts";
  case StateGroup::success: return "success";
  case StateGroup::failure: return "failure";
  }
  return "unknown";
}

const std::vector<State>& lifecycle_states() {
  static const std::vector<State> states = {
      State::queued,    State::sending,         State::submitting,     State::deferred,
      State::uncertain, State::submitted,       State::accepted,       State::delayed,
      State::delivered, State::sent_external,   State::failed,         State::rejected,
      State::delivery_failed, State::failed_timeout, State::no_receipt, State::abandoned,
  };
  return states;
}

bool needs_decision(State state) {
  // An abandoned row was decided on: it was sent again.
  return state == State::uncertain || state == State::deferred ||
         (group_of(state) == StateGroup::failure && state != State::abandoned);
}

std::string describe_error(const journal::RowRecord& row) {
  switch (row.state) {
  case State::queued:
  case State::sending:
  case State::submitting:
  case State::deferred:
  case State::failed:
  case State::uncertain: {
    if (row.last_code < 400) {
      return "";
    }
    std::string out = std::to_string(row.last_code);
    if (!row.last_enhanced.empty() && !row.last_text.starts_with(row.last_enhanced)) {
      out.append(" ").append(row.last_enhanced);
    }
    if (!row.last_text.empty()) {
      out.append(" ").append(row.last_text);
    }
    return out;
  }
  case State::rejected:
  case State::delivery_failed:
  case State::failed_timeout:
  case State::delayed:
    return row.last_text;
  case State::no_receipt:
    return "no final receipt in time (poll.no_receipt_after_hours)";
  default:
    return "";
  }
}

std::string iso_local_time(core::TimePoint time) {
  const long long ms = core::to_unix_ms(time);
  const std::time_t seconds = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  ::localtime_r(&seconds, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  const long offset = tm.tm_gmtoff;
  const int magnitude = static_cast<int>((offset < 0 ? -offset : offset) % 86400);
  char zone[16];
  std::snprintf(zone, sizeof zone, "%c%02d:%02d", offset < 0 ? '-' : '+', magnitude / 3600,
                magnitude % 3600 / 60);
  return std::string(buffer) + zone;
}

core::Result<journal::Journal> open_journal_read_only(const config::Campaign& campaign) {
  const auto file = journal_path(campaign);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return make_error(ErrorKind::config, "campaign " + core::quote(campaign.id) +
                                             " has no journal yet (" + file.string() +
                                             "): nothing was sent, run 'pecbatch send' first");
  }
  return journal::Journal::open_read_only(file, campaign.id);
}

core::Result<StatusReport> campaign_status(const config::Campaign& campaign,
                                           core::TimePoint now) {
  PB_TRY_ASSIGN(auto journal, open_journal_read_only(campaign));
  StatusReport report;
  report.campaign_id = campaign.id;
  report.campaign_name = campaign.name;
  report.journal_file = journal_path(campaign);
  report.now = now;
  report.limits = campaign.limits;

  // Recipients per state (the latest attempt of each contacts row), every
  // state listed (a state unknown to the lifecycle list comes last).
  PB_TRY_ASSIGN(auto counts, journal.current_counts());
  for (const auto& [state, n] : counts) {
    report.total += n;
  }
  auto add_state = [&](State state) {
    const auto it = counts.find(state);
    const std::uint64_t n = it == counts.end() ? 0 : it->second;
    const double percent =
        report.total == 0 ? 0.0 : 100.0 * static_cast<double>(n) / static_cast<double>(report.total);
    report.states.push_back({state, n, percent});
    switch (group_of(state)) {
    case StateGroup::to_send: report.to_send += n; break;
    case StateGroup::awaiting_receipts: report.awaiting_receipts += n; break;
    case StateGroup::success: report.succeeded += n; break;
    case StateGroup::failure: report.failed += n; break;
    }
    if (it != counts.end()) {
      counts.erase(it);
    }
  };
  for (const State state : lifecycle_states()) {
    add_state(state);
  }
  while (!counts.empty()) {
    add_state(counts.begin()->first);
  }

  // The send rate, from the submission times (when DATA started).
  PB_TRY_ASSIGN(const auto submissions, journal.submissions_since(core::TimePoint{}));
  report.submissions = submissions.size();
  if (!submissions.empty()) {
    report.first_submission = submissions.front();
    report.last_submission = submissions.back();
    const auto since = now - report.rate_window;
    report.recent_submissions = static_cast<std::uint64_t>(
        submissions.end() - std::lower_bound(submissions.begin(), submissions.end(), since));
    report.recent_rate_per_minute = static_cast<double>(report.recent_submissions) /
                                    static_cast<double>(report.rate_window.count());
    const auto span = std::chrono::duration<double, std::ratio<60>>(submissions.back() -
                                                                      submissions.front());
    // Over less than a minute (one burst) an average says nothing.
    if (submissions.size() >= 2 && span.count() >= 1.0) {
      report.average_rate_per_minute =
          static_cast<double>(submissions.size() - 1) / span.count();
    }
  }

  // Time to send the rest.
  const auto& limits = campaign.limits;
  if (report.to_send == 0) {
    report.eta = std::chrono::seconds(0);
    report.eta_basis = "nothing to send";
  } else if (limits.rate_per_minute > 0 || limits.rate_per_hour > 0 ||
             limits.rate_per_day > 0) {
    // As `send` plans it: the first message leaves at once, each later one
    // when the provider's windows allow.
    report.eta = estimate_duration(report.to_send, limits);
    report.eta_basis = "configured rate";
  } else if (report.recent_rate_per_minute > 0) {
    report.eta = std::chrono::seconds(static_cast<std::int64_t>(
        60.0 * static_cast<double>(report.to_send) / report.recent_rate_per_minute + 0.5));
    report.eta_basis = "recent rate";
  }

  PB_TRY_ASSIGN(report.last_receipt, journal.last_receipt_time());

  std::vector<State> decision_states;
  for (const auto& count : report.states) {
    if (needs_decision(count.state) && count.count > 0) {
      decision_states.push_back(count.state);
    }
  }
  if (!decision_states.empty()) {
    PB_TRY(journal.for_each(decision_states, [&](const journal::RowRecord& row) {
      if (row.superseded_by) {
        return true;  // sent again: the new attempt is the one that counts
      }
      report.decisions.push_back(
          {row.row, row.address, row.message_id, row.state, describe_error(row)});
      return true;
    }));
  }
  return report;
}

} // namespace pecbatch::campaign
