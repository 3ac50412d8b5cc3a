// Reply classification and outcome names (include/pecbatch/dispatch/transport.hpp).

#include <pecbatch/core/strings.hpp>
#include <pecbatch/dispatch/transport.hpp>

#include <array>
#include <string>
#include <string_view>

namespace pecbatch::dispatch {

namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// True when `lower` contains `word` with no letter or digit on either side
// ("rate" matches "rate limit" and "rate-limited", not "generate").
bool contains_word(std::string_view lower, std::string_view word) {
  for (auto pos = lower.find(word); pos != std::string_view::npos;
       pos = lower.find(word, pos + 1)) {
    const bool left_ok = pos == 0 || !is_word_char(lower[pos - 1]);
    const std::size_t end = pos + word.size();
    const bool right_ok = end == lower.size() || !is_word_char(lower[end]);
    if (left_ok && right_ok) {
      return true;
    }
  }
  return false;
}

// Texts with which servers say "you are sending too fast" in a 4xx reply.
bool says_too_fast(std::string_view lower) {
  static constexpr std::array<std::string_view, 7> k_phrases = {
      "too much traffic", "too many messages", "too many connections", "ratelimit",
      "throttl",          "slow down", "class of service"};
  for (const auto phrase : k_phrases) {
    if (lower.find(phrase) != std::string_view::npos) {
      return true;
    }
  }
  return contains_word(lower, "rate");
}

// Texts with which a 5xx reply still means "too fast" rather than "never":
// InfoCert Legalmail's `550 5.7.1 Class Of Service - Too much traffic from
// this sender` over its per-minute cap.
bool says_over_quota_5xx(std::string_view lower) {
  return lower.find("too much traffic") != std::string_view::npos ||
         lower.find("class of service") != std::string_view::npos;
}

char enhanced_class(const std::string& enhanced) {
  return enhanced.empty() ? '\0' : enhanced.front();
}

} // namespace

const char* to_string(Outcome outcome) {
  switch (outcome) {
  case Outcome::accepted:
    return "accepted";
  case Outcome::transient:
    return "transient";
  case Outcome::throttled:
    return "throttled";
  case Outcome::permanent:
    return "permanent";
  case Outcome::unknown:
    return "unknown";
  case Outcome::auth:
    return "auth";
  case Outcome::tls:
    return "tls";
  }
  return "invalid";
}

Outcome classify_reply(const SmtpReply& reply) {
  int klass = reply.code / 100;
  if (reply.code == 0) {
    // No basic code: fall back on the enhanced code's class, if any.
    const char c = enhanced_class(reply.enhanced);
    klass = c == '2' ? 2 : c == '5' ? 5 : 4;
  }
  if (klass == 2) {
    return Outcome::accepted;
  }
  const std::string lower = core::to_lower_ascii(reply.text);
  if (klass == 5) {
    // RFC 4954: 530 authentication required, 534 mechanism too weak, 535
    // credentials invalid, 538 encryption required for the mechanism.
    if (reply.code == 530 || reply.code == 534 || reply.code == 535 ||
        reply.code == 538 || reply.enhanced == "5.7.8" || reply.enhanced == "5.7.9" ||
        reply.enhanced == "5.7.11") {
      return Outcome::auth;
    }
    return says_over_quota_5xx(lower) ? Outcome::throttled : Outcome::permanent;
  }
  if (klass == 4) {
    return says_too_fast(lower) ? Outcome::throttled : Outcome::transient;
  }
  // 1xx/3xx as a final reply, or garbage: nothing was decided; retry.
  return Outcome::transient;
}

} // namespace pecbatch::dispatch
