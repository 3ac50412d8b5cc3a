#include "fakes/fake_transport.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pecbatch::test {
namespace {

using dispatch::Outcome;

dispatch::Envelope envelope(const std::string& id, const std::string* data) {
  return dispatch::Envelope{"a@pec.test", "b@pec.test", id, data};
}

TEST(FakeTransportTest, AcceptsByDefaultAndRecordsEnvelopes) {
  FakeTransport transport;
  const std::string data = "Subject: x\r\n\r\nbody\r\n";
  int hook_calls = 0;
  const auto result = transport.send(envelope("<1@x>", &data), [&] {
    ++hook_calls;
    return core::Status{};
  });
  EXPECT_EQ(result.outcome, Outcome::accepted);
  EXPECT_EQ(result.reply.code, 250);
  ASSERT_EQ(transport.calls().size(), 1u);
  EXPECT_EQ(transport.calls()[0].message_id, "<1@x>");
  EXPECT_EQ(transport.calls()[0].data, data);
  EXPECT_TRUE(transport.calls()[0].before_data_called);
  EXPECT_EQ(hook_calls, 1);
}

TEST(FakeTransportTest, CallsBeforeDataOnlyPastData) {
  FakeTransport transport;
  transport.push(Outcome::throttled, 550, "5.7.1", "Too much traffic"); // at MAIL
  transport.push(FakeTransport::result(Outcome::unknown));
  transport.push(FakeTransport::Step::after_data(
      FakeTransport::result(Outcome::permanent, 554, "5.3.0", "Transaction failed")));
  transport.push(Outcome::permanent, 550, "5.1.1", "User unknown"); // at RCPT
  const std::string data = "x";
  int hook_calls = 0;
  const auto hook = [&] {
    ++hook_calls;
    return core::Status{};
  };
  EXPECT_EQ(transport.send(envelope("<1@x>", &data), hook).outcome, Outcome::throttled);
  EXPECT_EQ(transport.send(envelope("<2@x>", &data), hook).outcome, Outcome::unknown);
  EXPECT_EQ(transport.send(envelope("<3@x>", &data), hook).outcome, Outcome::permanent);
  EXPECT_EQ(transport.send(envelope("<4@x>", &data), hook).outcome, Outcome::permanent);
  EXPECT_EQ(transport.pending(), 0u);
  ASSERT_EQ(transport.calls().size(), 4u);
  EXPECT_FALSE(transport.calls()[0].before_data_called);
  EXPECT_TRUE(transport.calls()[1].before_data_called);
  EXPECT_TRUE(transport.calls()[2].before_data_called);
  EXPECT_FALSE(transport.calls()[3].before_data_called);
  EXPECT_EQ(hook_calls, 2);
}

TEST(FakeTransportTest, FailingBeforeDataMakesItTransient) {
  FakeTransport transport;
  const std::string data = "x";
  const auto result = transport.send(envelope("<1@x>", &data), [] {
    return core::Status(core::make_error(core::ErrorKind::io, "disk full"));
  });
  EXPECT_EQ(result.outcome, Outcome::transient);
  EXPECT_EQ(result.detail, "disk full");
  EXPECT_TRUE(transport.calls()[0].before_data_failed);
}

TEST(FakeTransportTest, ScriptFunctionAndModes) {
  FakeTransport transport;
  transport.set_script([](const dispatch::Envelope& e, std::size_t index) {
    return index % 2 == 0 ? FakeTransport::Step(FakeTransport::accepted())
                          : FakeTransport::Step(FakeTransport::result(
                                Outcome::transient, 451, "4.3.0", e.message_id));
  });
  transport.set_before_data(FakeTransport::BeforeData::never);
  const std::string data = "x";
  const auto none = std::function<core::Status()>();
  EXPECT_EQ(transport.send(envelope("<1@x>", &data), none).outcome, Outcome::accepted);
  const auto second = transport.send(envelope("<2@x>", &data), none);
  EXPECT_EQ(second.outcome, Outcome::transient);
  EXPECT_EQ(second.reply.text, "<2@x>");
  EXPECT_FALSE(transport.calls()[0].before_data_called);
  transport.close();
  EXPECT_EQ(transport.closes(), 1);
  EXPECT_EQ(transport.connections_dropped_by_errors(), 1);
}

} // namespace
} // namespace pecbatch::test
