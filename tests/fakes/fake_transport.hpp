#pragma once

#include <pecbatch/dispatch/transport.hpp>

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace pecbatch::test {

// A scripted dispatch::Transport for unit tests of its callers.
//
// Each `send` takes the next scripted Step (or asks the script function),
// records the envelope, and calls `before_data` the way the real transport
// would: only when the step got past DATA (see BeforeData). When the queue
// is empty and no function is set, every message is accepted with
// "250 2.0.0 Ok".
//
//   FakeTransport t;
//   t.push(dispatch::Outcome::throttled, 550, "5.7.1", "Too much traffic");
//   t.push(FakeTransport::Step::after_data(FakeTransport::result(
//       dispatch::Outcome::permanent, 554, "5.3.0", "Transaction failed")));
class FakeTransport final : public dispatch::Transport {
public:
  // What one `send` does.
  struct Step {
    dispatch::SendResult result;
    // Whether the (simulated) server got as far as 354, so that the real
    // transport would have called `before_data`. Defaults: true for
    // accepted and unknown, false otherwise (failures at MAIL/RCPT/DATA).
    bool reached_data = false;

    Step() = default;
    Step(dispatch::SendResult r) // NOLINT: implicit on purpose
        : result(std::move(r)),
          reached_data(result.outcome == dispatch::Outcome::accepted ||
                       result.outcome == dispatch::Outcome::unknown) {}
    // A failure that happened after the data (e.g. 554 or 451 after the
    // final dot): `before_data` is called.
    static Step after_data(dispatch::SendResult r) {
      Step step(std::move(r));
      step.reached_data = true;
      return step;
    }
  };

  // When `before_data` is called.
  enum class BeforeData {
    past_data, // only for steps that reached DATA (the real behaviour)
    always,    // for every send
    never,     // never
  };

  // What was sent, one entry per `send` call.
  struct Call {
    std::string mail_from;
    std::string rcpt_to;
    std::string message_id;
    std::string data; // a copy of *envelope.data ("" if null)
    bool before_data_called = false;
    bool before_data_failed = false;
    dispatch::SendResult result; // what `send` returned
  };

  using Script = std::function<Step(const dispatch::Envelope&, std::size_t call_index)>;

  static dispatch::SendResult result(dispatch::Outcome outcome, int code = 0,
                                     std::string enhanced = {}, std::string text = {},
                                     std::string detail = {}) {
    dispatch::SendResult r;
    r.outcome = outcome;
    r.reply.code = code;
    r.reply.enhanced = std::move(enhanced);
    r.reply.text = std::move(text);
    r.detail = std::move(detail);
    return r;
  }
  static dispatch::SendResult accepted() {
    return result(dispatch::Outcome::accepted, 250, "2.0.0", "Ok");
  }

  // Queues the result of one future `send`.
  void push(Step step) { m_queue.push_back(std::move(step)); }
  void push(dispatch::Outcome outcome, int code = 0, std::string enhanced = {},
            std::string text = {}) {
    push(Step(result(outcome, code, std::move(enhanced), std::move(text))));
  }
  // Used when the queue is empty.
  void set_script(Script script) { m_script = std::move(script); }
  void set_before_data(BeforeData mode) { m_before_data = mode; }

  dispatch::SendResult send(const dispatch::Envelope& envelope,
                            const std::function<core::Status()>& before_data) override {
    const std::size_t index = m_calls.size();
    Step step;
    if (!m_queue.empty()) {
      step = std::move(m_queue.front());
      m_queue.pop_front();
    } else if (m_script) {
      step = m_script(envelope, index);
    } else {
      step = Step(accepted());
    }

    Call call;
    call.mail_from = envelope.mail_from;
    call.rcpt_to = envelope.rcpt_to;
    call.message_id = envelope.message_id;
    call.data = envelope.data != nullptr ? *envelope.data : std::string();

    const bool call_hook = m_before_data == BeforeData::always ||
                           (m_before_data == BeforeData::past_data && step.reached_data);
    if (call_hook && before_data) {
      call.before_data_called = true;
      core::Status status = before_data();
      if (!status.ok()) {
        // As the real transport: nothing is sent, the row may be retried.
        call.before_data_failed = true;
        step.result = result(dispatch::Outcome::transient, 354, {},
                             "End data with <CR><LF>.<CR><LF>", status.error().message);
      }
    }
    call.result = step.result;
    m_calls.push_back(std::move(call));
    if (step.result.outcome != dispatch::Outcome::accepted) {
      ++m_closes_by_error; // the real transport drops its connection
    }
    return step.result;
  }

  void close() override { ++m_closes; }

  const std::vector<Call>& calls() const { return m_calls; }
  std::size_t pending() const { return m_queue.size(); }
  int closes() const { return m_closes; }
  int connections_dropped_by_errors() const { return m_closes_by_error; }

private:
  std::deque<Step> m_queue;
  Script m_script;
  BeforeData m_before_data = BeforeData::past_data;
  std::vector<Call> m_calls;
  int m_closes = 0;
  int m_closes_by_error = 0;
};

// Forwards to one FakeTransport, so that a send run (which asks for a
// Transport per worker) is seen whole by one fake. Not thread-safe: for
// runs with one worker.
class SharedFakeTransport final : public dispatch::Transport {
public:
  explicit SharedFakeTransport(FakeTransport& fake) : m_fake(fake) {}
  dispatch::SendResult send(const dispatch::Envelope& envelope,
                            const std::function<core::Status()>& before_data) override {
    return m_fake.send(envelope, before_data);
  }
  void close() override {}

private:
  FakeTransport& m_fake;
};

} // namespace pecbatch::test
