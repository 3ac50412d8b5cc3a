#include <pecbatch/journal/journal.hpp>

#include "journal_test_support.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

using namespace pecbatch::journal;
using namespace pecbatch::journal::test;

TEST(StatesTest, NamesRoundTrip) {
  std::set<std::string> names;
  for (State s : all_states()) {
    const std::string name = to_string(s);
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    ASSERT_TRUE(parse_state(name).has_value()) << name;
    EXPECT_EQ(*parse_state(name), s);
  }
  EXPECT_EQ(names.size(), 16u);
  EXPECT_EQ(std::string(to_string(State::sent_external)), "sent_external");
  EXPECT_EQ(std::string(to_string(State::failed_timeout)), "failed_timeout");
  EXPECT_EQ(std::string(to_string(State::abandoned)), "abandoned");
}

TEST(StatesTest, ParseRefusesUnknownNames) {
  EXPECT_FALSE(parse_state("").has_value());
  EXPECT_FALSE(parse_state("Queued").has_value());
  EXPECT_FALSE(parse_state("queued ").has_value());
  EXPECT_FALSE(parse_state("accettazione").has_value());
}

TEST(StatesTest, IsAllowedMatchesTheSpecifiedTableForEveryPair) {
  int allowed = 0;
  for (State from : all_states()) {
    for (State to : all_states()) {
      const bool expected = expected_transitions().count({from, to}) == 1;
      EXPECT_EQ(is_allowed(from, to), expected)
          << to_string(from) << " -> " << to_string(to);
      allowed += is_allowed(from, to) ? 1 : 0;
    }
  }
  EXPECT_EQ(allowed, 38);
}

TEST(StatesTest, NeverResendsBlindlyOrLeavesAFinalState) {
  EXPECT_FALSE(is_allowed(State::uncertain, State::queued));
  EXPECT_FALSE(is_allowed(State::uncertain, State::sending));
  EXPECT_FALSE(is_allowed(State::uncertain, State::deferred));
  EXPECT_FALSE(is_allowed(State::submitted, State::queued));
  const std::vector<State> finals = {State::failed,    State::rejected,
                                     State::delivered, State::delivery_failed,
                                     State::no_receipt, State::sent_external};
  for (State final_state : finals) {
    for (State to : all_states()) {
      EXPECT_FALSE(is_allowed(final_state, to))
          << to_string(final_state) << " -> " << to_string(to);
    }
  }
  // A late consegna still wins over a timeout notice.
  EXPECT_TRUE(is_allowed(State::failed_timeout, State::delivered));
}

TEST(StatesTest, EveryStateIsReachableFromQueued) {
  for (State s : all_states()) {
    const auto path = path_to(s);
    State at = State::queued;
    for (State next : path) {
      EXPECT_TRUE(is_allowed(at, next) || linked_transitions().count({at, next}) == 1)
          << to_string(at) << " -> " << to_string(next);
      at = next;
    }
    EXPECT_EQ(at, s);
  }
}

TEST(StatesTest, OnlyAResendAbandonsARow) {
  // transition() never makes a row abandoned: resend_uncertain does, with
  // the new attempt, in one transaction.
  for (State from : all_states()) {
    EXPECT_FALSE(is_allowed(from, State::abandoned)) << to_string(from);
  }
  // Its receipts still count: a delivered first message wins.
  EXPECT_TRUE(is_allowed(State::abandoned, State::delivered));
  EXPECT_FALSE(is_allowed(State::abandoned, State::queued));
  EXPECT_FALSE(is_allowed(State::abandoned, State::sending));
}

TEST(StatesTest, RetryableStatesAreTheDefinitiveFailuresAndNoReceipt) {
  std::set<State> retryable;
  for (State s : all_states()) {
    if (is_retryable(s)) {
      retryable.insert(s);
    }
  }
  const std::set<State> expected = {State::failed, State::rejected, State::delivery_failed,
                                    State::failed_timeout, State::no_receipt};
  EXPECT_EQ(retryable, expected);
  EXPECT_FALSE(is_retryable(State::delivered));
  EXPECT_FALSE(is_retryable(State::uncertain));
  EXPECT_FALSE(is_retryable(State::abandoned));
}
