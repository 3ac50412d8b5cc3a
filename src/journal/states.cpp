#include <pecbatch/journal/journal.hpp>

#include <array>
#include <string_view>

namespace pecbatch::journal {

namespace {

constexpr std::array k_all_states = {
    State::queued,        State::sending,        State::submitting,
    State::submitted,     State::deferred,       State::failed,
    State::uncertain,     State::accepted,       State::rejected,
    State::sent_external, State::delivered,      State::delivery_failed,
    State::delayed,       State::failed_timeout, State::no_receipt,
    State::abandoned,
};

} // namespace

const char* to_string(State state) {
  switch (state) {
  case State::queued: return "queued";
  case State::sending: return "sending";
  case State::submitting: return "submitting";
  case State::submitted: return "submitted";
  case State::deferred: return "deferred";
  case State::failed: return "failed";
  case State::uncertain: return "uncertain";
  case State::accepted: return "accepted";
  case State::rejected: return "rejected";
  case State::sent_external: return "sent_external";
  case State::delivered: return "delivered";
  case State::delivery_failed: return "delivery_failed";
  case State::delayed: return "delayed";
  case State::failed_timeout: return "failed_timeout";
  case State::no_receipt: return "no_receipt";
  case State::abandoned: return "abandoned";
  }
  return "unknown";
}

std::optional<State> parse_state(std::string_view text) {
  for (State state : k_all_states) {
    if (text == to_string(state)) {
      return state;
    }
  }
  return std::nullopt;
}

// The table is written by destination: which states may lead to `to`.
// docs/journal.md shows the same table; keep both in step.
bool is_allowed(State from, State to) {
  switch (to) {
  case State::queued:
    // A transient failure before any byte of the message left (from
    // submitting too: the record is made before MAIL), or a 4xx after
    // DATA: the server definitively did not take the message. Never from
    // uncertain: no blind resend.
    return from == State::sending || from == State::submitting;
  case State::sending:
    return from == State::queued || from == State::deferred;
  case State::submitting:
    // Straight from queued/deferred: the sender makes the record at the
    // start of an attempt and the envelope (MAIL, RCPT) overlaps its
    // commit; the first byte of DATA waits for it. From sending: journals
    // written before that change.
    return from == State::queued || from == State::deferred || from == State::sending;
  case State::submitted:
    return from == State::submitting;
  case State::deferred:
    return from == State::sending || from == State::submitting;
  case State::failed:
    return from == State::sending || from == State::submitting;
  case State::uncertain:
    return from == State::submitting;
  case State::accepted:
  case State::rejected:
    // Abandoned: the provider took the first message after all.
    return from == State::submitted || from == State::uncertain ||
           from == State::abandoned;
  case State::sent_external:
    return from == State::accepted;
  case State::delivered:
    // A consegna wins over everything that is not yet final, and over a
    // timeout notice that came first.
    return from == State::accepted || from == State::submitted ||
           from == State::uncertain || from == State::delayed ||
           from == State::failed_timeout || from == State::abandoned;
  case State::delivery_failed:
    return from == State::accepted || from == State::submitted ||
           from == State::uncertain || from == State::delayed ||
           from == State::abandoned;
  case State::delayed:
    return from == State::accepted || from == State::submitted;
  case State::failed_timeout:
    return from == State::accepted || from == State::submitted ||
           from == State::delayed;
  case State::no_receipt:
    return from == State::accepted || from == State::submitted;
  case State::abandoned:
    // Never by transition(): only Journal::resend_uncertain, which links
    // the new attempt in the same transaction.
    return false;
  }
  return false;
}

bool is_retryable(State state) {
  return state == State::failed || state == State::rejected ||
         state == State::delivery_failed || state == State::failed_timeout ||
         state == State::no_receipt;
}

} // namespace pecbatch::journal
