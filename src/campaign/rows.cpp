#include <pecbatch/campaign/rows.hpp>

#include <pecbatch/core/strings.hpp>

#include <charconv>

namespace pecbatch::campaign {

namespace {

std::optional<std::uint64_t> parse_number(std::string_view text) {
  text = core::trim(text);
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

} // namespace

core::Result<RowSet> RowSet::parse(const std::string& text) {
  RowSet set;
  auto bad = [&](const std::string& why) {
    return core::make_error(core::ErrorKind::config,
                            "--rows " + core::quote(text) + ": " + why +
                                " (expected e.g. 2-10,15,40-; the header is row 1)");
  };
  for (const auto& part : core::split(text, ',')) {
    const auto dash = part.find('-');
    std::optional<std::uint64_t> first;
    std::optional<std::uint64_t> last;
    if (dash == std::string::npos) {
      first = parse_number(part);
      last = first;
    } else {
      first = parse_number(part.substr(0, dash));
      const auto rest = core::trim(std::string_view(part).substr(dash + 1));
      last = rest.empty() ? std::optional<std::uint64_t>(
                                std::numeric_limits<std::uint64_t>::max())
                          : parse_number(rest);
    }
    if (!first || !last) {
      return bad("not a row or range: " + core::quote(part));
    }
    if (*first < 1 || *first > *last) {
      return bad("empty range " + core::quote(part));
    }
    set.m_ranges.emplace_back(*first, *last);
  }
  return set;
}

bool RowSet::contains(std::uint64_t row) const {
  if (m_ranges.empty()) {
    return true;
  }
  for (const auto& [first, last] : m_ranges) {
    if (row >= first && row <= last) {
      return true;
    }
  }
  return false;
}

std::uint64_t RowSet::last() const {
  if (m_ranges.empty()) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  std::uint64_t out = 0;
  for (const auto& range : m_ranges) {
    out = std::max(out, range.second);
  }
  return out;
}

} // namespace pecbatch::campaign
