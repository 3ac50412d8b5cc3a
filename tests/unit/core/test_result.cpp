#include <pecbatch/core/result.hpp>

#include <gtest/gtest.h>

#include <memory>

using namespace pecbatch::core;

namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) {
    return make_error(ErrorKind::input, "not positive");
  }
  return v;
}

Result<int> doubled(int v) {
  PB_TRY_ASSIGN(int x, parse_positive(v));
  return x * 2;
}

Status check(int v) {
  PB_TRY(parse_positive(v));
  return Ok{};
}

} // namespace

TEST(ResultTest, CarriesValueOrError) {
  auto good = doubled(21);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);

  auto bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::input);
  EXPECT_EQ(bad.error().message, "not positive");
}

TEST(ResultTest, StatusPropagatesErrors) {
  EXPECT_TRUE(check(1).ok());
  auto failed = check(0);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "not positive");
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  auto p = std::move(r).value_or_throw();
  EXPECT_EQ(*p, 7);
}

TEST(ResultTest, ValueOrThrowThrowsFatalWithTheError) {
  try {
    (void)doubled(0).value_or_throw();
    FAIL() << "expected Fatal";
  } catch (const Fatal& fatal) {
    EXPECT_EQ(fatal.error().kind, ErrorKind::input);
  }
}
