// Byte-level helpers: header end, multipart delimiters, line ends.

#include "raw_mime.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pecbatch::receipts::detail {
namespace {

std::string part_of(const std::string& raw, const std::string& boundary) {
  const auto range = first_body_part(raw, body_offset(raw), boundary);
  return range ? raw.substr(range->offset, range->size) : "<none>";
}

TEST(RawMime, BodyStartsAfterTheEmptyLine) {
  EXPECT_EQ(body_offset("A: 1\r\nB: 2\r\n\r\nbody"), 14u);
  EXPECT_EQ(body_offset("A: 1\nB: 2\n\nbody"), 11u);
  EXPECT_EQ(body_offset("A: 1\r\n"), 6u); // no body
}

TEST(RawMime, FirstBodyPartExcludesTheDelimiterLineBreaks) {
  const std::string crlf = "Content-Type: multipart/signed; boundary=\"b\"\r\n\r\n"
                           "preamble\r\n--b\r\nContent-Type: text/plain\r\n\r\nsigned\r\n"
                           "\r\n--b\r\nsig\r\n--b--\r\n";
  EXPECT_EQ(part_of(crlf, "b"), "Content-Type: text/plain\r\n\r\nsigned\r\n");
  const std::string lf = "X: y\n\n--b\ncontent\n--b\nsig\n--b--\n";
  EXPECT_EQ(part_of(lf, "b"), "content");
}

TEST(RawMime, DelimitersMayHaveTransportPaddingButNotOtherText) {
  const std::string raw = "X: y\r\n\r\n--b \t\r\nline\r\n--bx\r\nmore\r\n--b--  \r\n";
  EXPECT_EQ(part_of(raw, "b"), "line\r\n--bx\r\nmore");
}

TEST(RawMime, DelimiterMustStartALine) {
  const std::string raw = "X: y\r\n\r\n--b\r\nsee --b here\r\n--b\r\n";
  EXPECT_EQ(part_of(raw, "b"), "see --b here");
}

TEST(RawMime, MissingDelimitersGiveNothing) {
  EXPECT_EQ(part_of("X: y\r\n\r\n--b\r\nonly one part, truncated\r\n", "b"), "<none>");
  EXPECT_EQ(part_of("X: y\r\n\r\nno parts\r\n", "b"), "<none>");
  EXPECT_EQ(part_of("X: y\r\n\r\n--b\r\nx\r\n--b\r\n", ""), "<none>");
}

TEST(RawMime, EmptyFirstPart) {
  EXPECT_EQ(part_of("X: y\r\n\r\n--b\r\n--b\r\n", "b"), "");
}

TEST(RawMime, CanonicalisationTouchesOnlyBareLf) {
  EXPECT_EQ(canonicalise_crlf("a\nb\r\nc\n\n"), "a\r\nb\r\nc\r\n\r\n");
  EXPECT_EQ(canonicalise_crlf("\n"), "\r\n");
  EXPECT_EQ(canonicalise_crlf("a\rb"), "a\rb");
  EXPECT_EQ(canonicalise_crlf(""), "");
}

TEST(RawMime, DetectsLineEndsAndHeaderFields) {
  EXPECT_TRUE(first_line_bare_lf("A: b\nC: d\r\n"));
  EXPECT_FALSE(first_line_bare_lf("A: b\r\nC: d\n"));
  EXPECT_FALSE(first_line_bare_lf("no line end"));
  EXPECT_TRUE(starts_with_header_field("Return-Path: <a@b>\n"));
  EXPECT_TRUE(starts_with_header_field("X-Ricevuta:accettazione"));
  EXPECT_FALSE(starts_with_header_field("hello world: no\n"));
  EXPECT_FALSE(starts_with_header_field(": empty name\n"));
  EXPECT_FALSE(starts_with_header_field("\r\nA: b\r\n"));
  EXPECT_FALSE(starts_with_header_field(std::string("\x89PNG\r\n", 6)));
}

} // namespace
} // namespace pecbatch::receipts::detail
