#include <pecbatch/campaign/validate.hpp>

#include <pecbatch/campaign/messages.hpp>

#include <algorithm>
#include <cstdio>

namespace pecbatch::campaign {

core::Result<ValidationReport> validate_campaign(const config::Campaign& campaign,
                                                 const ValidateOptions& options) {
  PB_TRY_ASSIGN(auto factory, MessageFactory::create(campaign));

  contacts::ValidateOptions contact_options = campaign.contacts.validate;
  contact_options.header_columns = factory.header_columns();
  PB_TRY_ASSIGN(auto stream, contacts::ContactStream::open(
                                 campaign.contacts.file, campaign.contacts.read,
                                 contact_options));

  ValidationReport report;
  report.errors = factory.check_fields(stream.columns());
  const std::string file = campaign.contacts.file.string();
  const std::time_t date = options.date != 0 ? options.date : std::time(nullptr);

  while (!options.keep_going || options.keep_going()) {
    PB_TRY_ASSIGN(auto next, stream.next());
    if (!next) {
      break;
    }
    auto& row = *next;
    ++report.rows;
    if (row.duplicate_skipped) {
      ++report.skipped;
      report.warnings.insert(report.warnings.end(), row.problems.begin(),
                             row.problems.end());
      continue;
    }
    if (!row.problems.empty()) {
      report.errors.insert(report.errors.end(), row.problems.begin(), row.problems.end());
      continue;
    }
    if (!options.compose) {
      ++report.valid;
      if (options.rows.contains(row.contact.row)) {
        ++report.selected;
        if (options.row_sink) {
          PB_TRY(options.row_sink(row.contact));
        }
      }
      continue;
    }
    const bool selected = options.rows.contains(row.contact.row);
    auto built = factory.build(row.contact, date, file, report.errors,
                               selected && options.sink && options.bytes);
    if (!built) {
      continue;
    }
    ++report.valid;
    report.total_bytes += built->size;
    if (built->size > report.largest_bytes) {
      report.largest_bytes = built->size;
      report.largest_row = row.contact.row;
      report.largest_address = row.contact.address;
    }
    if (selected) {
      ++report.selected;
      if (options.sink) {
        PB_TRY(options.sink(row.contact, built->spec, built->bytes));
      }
    }
  }
  report.estimated_duration = estimate_duration(report.valid, campaign.limits);
  return report;
}

std::chrono::seconds estimate_duration(std::uint64_t messages,
                                       const config::Limits& limits) {
  if (messages <= 1) {
    return std::chrono::seconds(0);
  }
  // With at most R messages in any window of W seconds, message n (from 0)
  // can leave no earlier than floor(n / R) * W.
  std::uint64_t seconds = 0;
  auto window = [&](unsigned rate, std::uint64_t width) {
    if (rate > 0) {
      seconds = std::max(seconds, (messages - 1) / rate * width);
    }
  };
  window(limits.rate_per_minute, 60);
  window(limits.rate_per_hour, 3600);
  window(limits.rate_per_day, 86400);
  return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(seconds));
}

std::string format_duration(std::chrono::seconds duration) {
  auto s = static_cast<std::uint64_t>(duration.count());
  const std::uint64_t days = s / 86400;
  const std::uint64_t hours = s % 86400 / 3600;
  const std::uint64_t minutes = s % 3600 / 60;
  const std::uint64_t secs = s % 60;
  std::string out;
  auto add = [&](std::uint64_t n, const char* unit) {
    if (!out.empty()) {
      out.push_back(' ');
    }
    out.append(std::to_string(n)).append(" ").append(unit);
  };
  if (days > 0) {
    add(days, days == 1 ? "day" : "days");
    if (hours > 0) {
      add(hours, "h");
    }
    return out;
  }
  if (hours > 0) {
    add(hours, "h");
    if (minutes > 0) {
      add(minutes, "min");
    }
    return out;
  }
  if (minutes > 0) {
    add(minutes, "min");
    if (secs > 0) {
      add(secs, "s");
    }
    return out;
  }
  add(secs, "s");
  return out;
}

std::string format_size(std::uint64_t bytes) {
  char buf[32];
  if (bytes < 1000) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < 1000 * 1000) {
    std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(bytes) / 1e3);
  } else if (bytes < 1000ULL * 1000 * 1000) {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(bytes) / 1e9);
  }
  return buf;
}

} // namespace pecbatch::campaign
