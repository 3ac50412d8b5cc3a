// The IMAP response reader: framing (literals of any size, read exactly,
// never scanned for tags), parsing, and the small command-side helpers.

#include "imap_parser.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using namespace pecbatch::receipts::imap;
using pecbatch::core::ErrorKind;

namespace {

// Feeds `wire` in chunks of `chunk` bytes and collects every response.
std::vector<RawResponse> frame(const std::string &wire, std::size_t chunk,
                               Framer framer = {}) {
  std::vector<RawResponse> out;
  for (std::size_t i = 0; i < wire.size(); i += chunk) {
    framer.feed(std::string_view(wire).substr(i, chunk));
    for (;;) {
      auto next = framer.next();
      EXPECT_TRUE(next.ok()) << next.error().message;
      if (!next.ok() || !*next) {
        break;
      }
      out.push_back(std::move(**next));
    }
  }
  EXPECT_EQ(framer.pending(), 0u);
  return out;
}

Response parse(std::string wire) {
  auto responses = frame(wire, wire.size());
  EXPECT_EQ(responses.size(), 1u);
  auto parsed = parse_response(std::move(responses.at(0)));
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return std::move(parsed).value();
}

} // namespace

TEST(ImapFramer, SplitsLinesWhateverTheChunks) {
  const std::string wire =
      "* OK [CAPABILITY IMAP4rev1] ready\r\n* 3 EXISTS\r\nA0001 OK done\r\n";
  for (const std::size_t chunk : {1u, 2u, 5u, 64u}) {
    const auto responses = frame(wire, chunk);
    ASSERT_EQ(responses.size(), 3u) << chunk;
    EXPECT_EQ(responses[0].text, "* OK [CAPABILITY IMAP4rev1] ready");
    EXPECT_EQ(responses[1].text, "* 3 EXISTS");
    EXPECT_EQ(responses[2].text, "A0001 OK done");
    EXPECT_EQ(responses[0].wire_bytes + responses[1].wire_bytes + responses[2].wire_bytes,
              wire.size());
  }
}

TEST(ImapFramer, ALiteralIsReadByCountNeverScannedForTags) {
  // A body whose lines look like the end of the command, a FETCH, a
  // continuation and a literal marker of their own.
  const std::string body =
      "Subject: x\r\n\r\nA0002 OK FETCH completed\r\n* 9 FETCH (UID 9)\r\n"
      "+ go on\r\nA0002 BAD {12}\r\n";
  const std::string wire = "* 1 FETCH (UID 7 BODY[] {" + std::to_string(body.size()) +
                           "}\r\n" + body +
                           ")\r\nA0002 OK FETCH done\r\nA0003 OK next\r\n";
  for (const std::size_t chunk : {1u, 3u, 4096u}) {
    const auto responses = frame(wire, chunk);
    ASSERT_EQ(responses.size(), 3u) << chunk;
    EXPECT_EQ(responses[0].text,
              "* 1 FETCH (UID 7 BODY[] {" + std::to_string(body.size()) + "})");
    ASSERT_EQ(responses[0].literals.size(), 1u);
    EXPECT_EQ(responses[0].literals[0], body);
    EXPECT_EQ(responses[1].text, "A0002 OK FETCH done");
    EXPECT_EQ(responses[2].text, "A0003 OK next");
  }
}

TEST(ImapFramer, AHugeLiteralComesBackByteExact) {
  // 24 MB of every byte value, CRLFs and tag-like lines included.
  std::mt19937 random(42);
  std::string body(24u << 20, '\0');
  for (auto &c : body) {
    c = static_cast<char>(random() & 0xff);
  }
  for (std::size_t at = 1000; at + 40 < body.size(); at += 1'000'003) {
    body.replace(at, 24, "\r\nA0001 OK done\r\n{99}\r\n");
  }
  const std::string wire = "* 2 FETCH (UID 2 BODY[] {" + std::to_string(body.size()) +
                           "}\r\n" + body + " RFC822.SIZE " +
                           std::to_string(body.size()) + ")\r\nA0001 OK done\r\n";
  const auto responses = frame(wire, 16384);
  ASSERT_EQ(responses.size(), 2u);
  ASSERT_EQ(responses[0].literals.size(), 1u);
  EXPECT_TRUE(responses[0].literals[0] == body);
  EXPECT_EQ(responses[1].text, "A0001 OK done");

  auto parsed = parse_response(responses[0]);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  auto data = fetch_data(*parsed);
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(data->uid, 2u);
  EXPECT_EQ(data->size, body.size());
  ASSERT_NE(data->body("BODY[]"), nullptr);
  EXPECT_TRUE(data->body("BODY[]")->text == body);
}

TEST(ImapFramer, EmptyLiteralsAndALiteralAtTheEndOfAResponse) {
  const std::string wire =
      "* 1 FETCH (BODY[] {0}\r\n)\r\n* LIST () \"/\" {5}\r\nINBOX\r\n"
      "A0001 OK\r\n";
  const auto responses = frame(wire, 2);
  ASSERT_EQ(responses.size(), 3u);
  ASSERT_EQ(responses[0].literals.size(), 1u);
  EXPECT_EQ(responses[0].literals[0], "");
  EXPECT_EQ(responses[1].text, "* LIST () \"/\" {5}");
  ASSERT_EQ(responses[1].literals.size(), 1u);
  EXPECT_EQ(responses[1].literals[0], "INBOX");
  EXPECT_EQ(responses[2].text, "A0001 OK");
}

TEST(ImapFramer, RefusesWhatExceedsItsLimits) {
  Framer small_literal(FramerLimits{1024, 10});
  small_literal.feed("* 1 FETCH (BODY[] {11}\r\n");
  auto next = small_literal.next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().kind, ErrorKind::protocol);

  Framer short_lines(FramerLimits{16, 100});
  short_lines.feed("* OK this line is far too long");
  next = short_lines.next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().kind, ErrorKind::protocol);

  Framer absurd;
  absurd.feed("* 1 FETCH (BODY[] {123456789012345678901234567890}\r\n");
  EXPECT_FALSE(absurd.next().ok());
}

TEST(ImapFramer, AnnouncedSizeIsNotAllocatedUpFront) {
  Framer framer;
  framer.feed("* 1 FETCH (BODY[] {4000000000}\r\nabc");
  auto next = framer.next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(*next); // waiting for the rest, not holding 4 GB
}

TEST(ImapParser, StatusResponsesWithCodes) {
  auto r = parse("* OK [UIDVALIDITY 1795341570] UIDs valid\r\n");
  EXPECT_EQ(r.type, Response::Type::untagged);
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.code, "UIDVALIDITY 1795341570");
  EXPECT_EQ(r.text, "UIDs valid");

  r = parse("A0004 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
  EXPECT_EQ(r.type, Response::Type::tagged);
  EXPECT_EQ(r.tag, "A0004");
  EXPECT_EQ(r.status, Status::no);
  EXPECT_EQ(r.code, "AUTHENTICATIONFAILED");

  r = parse("A0005 ok [READ-ONLY] Examine completed (0.001 + 0.000 secs).\r\n");
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.code, "READ-ONLY");
  EXPECT_EQ(r.text, "Examine completed (0.001 + 0.000 secs).");

  r = parse("* BYE Logging out\r\n");
  EXPECT_EQ(r.status, Status::bye);

  r = parse("+ idling\r\n");
  EXPECT_EQ(r.type, Response::Type::continuation);
  EXPECT_EQ(r.text, "idling");
  r = parse("+\r\n");
  EXPECT_EQ(r.type, Response::Type::continuation);
  EXPECT_EQ(r.text, "");
}

TEST(ImapParser, DataResponses) {
  auto r = parse("* 12 EXISTS\r\n");
  EXPECT_EQ(r.number, 12u);
  EXPECT_EQ(r.name, "EXISTS");
  EXPECT_FALSE(r.status);

  r = parse("* SEARCH 3 7 12\r\n");
  EXPECT_EQ(r.name, "SEARCH");
  ASSERT_EQ(r.values.size(), 3u);
  EXPECT_EQ(r.values[2].number(), 12u);

  r = parse("* search\r\n");
  EXPECT_EQ(r.name, "SEARCH");
  EXPECT_TRUE(r.values.empty());

  r = parse("* CAPABILITY IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN\r\n");
  EXPECT_EQ(r.name, "CAPABILITY");
  ASSERT_EQ(r.values.size(), 4u);
  EXPECT_TRUE(r.values[3].is_atom("auth=plain"));

  r = parse("* FLAGS (\\Answered \\Flagged \\Seen $Forwarded)\r\n");
  ASSERT_EQ(r.values.size(), 1u);
  ASSERT_EQ(r.values[0].type, Value::Type::list);
  EXPECT_EQ(r.values[0].items[2].text, "\\Seen");

  r = parse("* LIST (\\HasNoChildren) \".\" \"Posta \\\"inviata\\\\\"\r\n");
  ASSERT_EQ(r.values.size(), 3u);
  EXPECT_EQ(r.values[2].type, Value::Type::string);
  EXPECT_EQ(r.values[2].text, "Posta \"inviata\\");

  r = parse("* 4 FETCH (UID 4 X-NOTHING NIL)\r\n");
  ASSERT_EQ(r.values[0].items.size(), 4u);
  EXPECT_EQ(r.values[0].items[3].type, Value::Type::nil);
}

TEST(ImapParser, FetchItemsWithSectionsAndLiterals) {
  const std::string headers =
      "X-Ricevuta: accettazione\r\nX-Riferimento-Message-ID: <a@b>\r\n\r\n";
  auto r = parse("* 3 FETCH (UID 17 RFC822.SIZE 5120 BODY[HEADER.FIELDS (X-RICEVUTA "
                 "X-RIFERIMENTO-MESSAGE-ID)] {" +
                 std::to_string(headers.size()) + "}\r\n" + headers +
                 " FLAGS (\\Recent))\r\n");
  auto data = fetch_data(r);
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(data->uid, 17u);
  EXPECT_EQ(data->size, 5120u);
  const Value *block = data->body("BODY[HEADER.FIELDS");
  ASSERT_NE(block, nullptr);
  EXPECT_TRUE(block->literal);
  EXPECT_EQ(block->text, headers);
  EXPECT_EQ(data->body("BODY[]"), nullptr);

  // Quoted instead of a literal, and an empty header block.
  r = parse("* 4 FETCH (UID 18 BODY[HEADER.FIELDS (X-RICEVUTA)] \"\\r\\n\")\r\n");
  data = fetch_data(r);
  ASSERT_TRUE(data.ok());
  ASSERT_NE(data->body("BODY[HEADER.FIELDS"), nullptr);

  // Not a FETCH, or a broken one.
  r = parse("* 4 EXISTS\r\n");
  EXPECT_FALSE(fetch_data(r).ok());
  r = parse("* 4 FETCH (UID)\r\n");
  EXPECT_FALSE(fetch_data(r).ok());
}

TEST(ImapParser, RejectsWhatIsNotImap) {
  for (const std::string wire :
       {"A0001 FETCH something\r\n", "\r\n", "* 1 FETCH (UID 1\r\n",
        "* 1 FETCH (UID 1))\r\n", "* 1 FETCH (BODY[] \"unterminated)\r\n"}) {
    auto responses = frame(wire, wire.size());
    ASSERT_EQ(responses.size(), 1u) << wire;
    EXPECT_FALSE(parse_response(std::move(responses[0])).ok()) << wire;
  }
  // Nested too deep.
  std::string deep = "* X " + std::string(100, '(') + std::string(100, ')') + "\r\n";
  auto responses = frame(deep, deep.size());
  EXPECT_FALSE(parse_response(std::move(responses.at(0))).ok());
}

TEST(ImapCommands, AstringsAreAtomsQuotedOrLiteralOnly) {
  EXPECT_EQ(quote_astring("INBOX"), "INBOX");
  EXPECT_EQ(quote_astring("mittente@pec.sandbox.test"), "mittente@pec.sandbox.test");
  EXPECT_EQ(quote_astring(""), "\"\"");
  EXPECT_EQ(quote_astring("Posta inviata"), "\"Posta inviata\"");
  EXPECT_EQ(quote_astring("pa\"ss\\word"), "\"pa\\\"ss\\\\word\"");
  EXPECT_EQ(quote_astring("<pecbatch.c1.0a.1@pec.test>"), "<pecbatch.c1.0a.1@pec.test>");
  EXPECT_EQ(quote_astring("a]b"), "\"a]b\"");
  EXPECT_EQ(quote_astring("line\r\nbreak"), std::nullopt);
  EXPECT_EQ(quote_astring("pässword"), std::nullopt);
  EXPECT_EQ(quote_astring(std::string("nul\0x", 5)), std::nullopt);
}

TEST(ImapCommands, MailboxNamesInModifiedUtf7) {
  EXPECT_EQ(encode_mailbox_name("INBOX").value(), "INBOX");
  EXPECT_EQ(encode_mailbox_name("Ricevute PEC").value(), "Ricevute PEC");
  EXPECT_EQ(encode_mailbox_name("A&B").value(), "A&-B");
  EXPECT_EQ(encode_mailbox_name("Entwürfe").value(), "Entw&APw-rfe");
  // RFC 3501 §5.1.3's example.
  EXPECT_EQ(encode_mailbox_name("~peter/mail/台北/日本語").value(),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(encode_mailbox_name("😀").value(), "&2D3eAA-");
  auto bad = encode_mailbox_name("\xff");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::config);
  EXPECT_FALSE(encode_mailbox_name("\xc3").ok());
}

TEST(ImapCommands, UidSetsAreCompact) {
  EXPECT_EQ(uid_set({}), "");
  EXPECT_EQ(uid_set({5}), "5");
  EXPECT_EQ(uid_set({1, 2, 3, 4, 5, 7, 9, 10, 11, 20}), "1:5,7,9:11,20");
}

TEST(ImapCommands, UidSetsFromTheServerAreCountedNotExpanded) {
  EXPECT_EQ(uid_set_size("5"), 1u);
  EXPECT_EQ(uid_set_size("1:5,7,9:11,20"), 10u);
  EXPECT_EQ(uid_set_size("11:9"), 3u); // a range may be written high to low
  EXPECT_EQ(uid_set_size("1:4294967295"), 4294967295u);
  for (const char *bad : {"", ",", "1,", ",1", "1:", ":2", "0", "1:*", "a", "1;2"}) {
    EXPECT_FALSE(uid_set_size(bad).has_value()) << bad;
  }
  EXPECT_EQ(copyuid_count("COPYUID 1795341599 3:5,9 1:4"), 4u);
  EXPECT_EQ(copyuid_count("copyuid 7 2 1"), 1u);
  EXPECT_FALSE(copyuid_count("COPYUID 7 2:3 1").has_value()); // sizes differ
  EXPECT_FALSE(copyuid_count("COPYUID 7 2").has_value());
  EXPECT_FALSE(copyuid_count("APPENDUID 7 2").has_value());
  EXPECT_FALSE(copyuid_count("").has_value());
}
