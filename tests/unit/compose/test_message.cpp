#include <pecbatch/compose/message.hpp>

#include "compose_detail.hpp"
#include "support/temp_dir.hpp"

#include <pecbatch/core/hash.hpp>
#include <pecbatch/core/strings.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace pecbatch::compose {
namespace {

using test::TempDirTest;

const std::string k_message_id = "pecbatch.camp1.0123456789abcdef0123.1@pec.example.it";

MessageSpec base_spec() {
  MessageSpec spec;
  spec.from = "mittente@pec.example.it";
  spec.to = "cliente@pec.example.it";
  spec.subject = "Fattura n. 12";
  spec.text = "Gentile cliente,\nin allegato la fattura.\n";
  spec.message_id = k_message_id;
  spec.date = 1700000000; // Tue, 14 Nov 2023 22:13:20 UTC
  spec.receipt = ReceiptType::sintetica;
  return spec;
}

// Every composition in these tests also checks composed_size(): the size
// of the message without producing it.
std::string compose_ok(const MessageSpec& spec) {
  auto composed = compose_message(spec);
  EXPECT_TRUE(composed.ok()) << (composed.ok() ? "" : composed.error().message);
  if (!composed.ok()) {
    return {};
  }
  const auto size = composed_size(spec);
  EXPECT_TRUE(size.ok());
  EXPECT_EQ(size.ok() ? *size : 0, composed->size());
  return *composed;
}

core::Error compose_error(const MessageSpec& spec) {
  auto composed = compose_message(spec);
  EXPECT_FALSE(composed.ok());
  const auto size = composed_size(spec);
  EXPECT_FALSE(size.ok());
  if (!composed.ok() && !size.ok()) {
    EXPECT_EQ(size.error().message, composed.error().message);
  }
  return composed.ok() ? core::Error{} : composed.error();
}

// The top-level header block (unfolded), one entry per header field.
std::vector<std::string> top_headers(const std::string& message) {
  const auto end = message.find("\r\n\r\n");
  std::vector<std::string> headers;
  std::size_t pos = 0;
  while (pos < end) {
    const auto eol = message.find("\r\n", pos);
    const std::string line = message.substr(pos, eol - pos);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      headers.back() += line;
    } else {
      headers.push_back(line);
    }
    pos = eol + 2;
  }
  return headers;
}

std::vector<std::string> header_names(const std::string& message) {
  std::vector<std::string> names;
  for (const auto& header : top_headers(message)) {
    names.push_back(header.substr(0, header.find(':')));
  }
  return names;
}

std::string header_value(const std::string& message, const std::string& name) {
  for (const auto& header : top_headers(message)) {
    if (header.starts_with(name + ": ")) {
      return header.substr(name.size() + 2);
    }
  }
  return "<absent>";
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

void expect_wire_format(const std::string& message) {
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n') {
      ASSERT_GT(i, 0U);
      ASSERT_EQ(message[i - 1], '\r') << "bare LF at byte " << i;
      EXPECT_LE(i - 1 - line_start, 998U) << "long line at byte " << line_start;
      line_start = i + 1;
    } else if (message[i] == '\r') {
      ASSERT_LT(i + 1, message.size());
      ASSERT_EQ(message[i + 1], '\n') << "bare CR at byte " << i;
    }
  }
  EXPECT_EQ(line_start, message.size()) << "message does not end with CRLF";
  EXPECT_TRUE(std::all_of(message.begin(), message.end(),
                          [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
      << "8-bit byte in message";
}

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 engine(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out(size, '\0');
  for (auto& c : out) {
    c = static_cast<char>(byte(engine));
  }
  return out;
}

// --- headers ---------------------------------------------------------------

TEST(ComposeMessageTest, WritesTheHeadersInOrder) {
  const auto message = compose_ok(base_spec());
  EXPECT_EQ(header_names(message),
            (std::vector<std::string>{"From", "To", "Subject", "Date", "Message-ID",
                                      "MIME-Version", "X-TipoRicevuta", "X-Mailer",
                                      "Content-Type", "Content-Transfer-Encoding"}));
  EXPECT_EQ(header_value(message, "From"), "mittente@pec.example.it");
  EXPECT_EQ(header_value(message, "To"), "cliente@pec.example.it");
  EXPECT_EQ(header_value(message, "Subject"), "Fattura n. 12");
  EXPECT_EQ(header_value(message, "Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(header_value(message, "Message-ID"), "<" + k_message_id + ">");
  EXPECT_EQ(header_value(message, "MIME-Version"), "1.0");
  EXPECT_EQ(header_value(message, "X-TipoRicevuta"), "sintetica");
  EXPECT_EQ(header_value(message, "X-Mailer"), "pecbatch " PECBATCH_VERSION);
}

TEST(ComposeMessageTest, HasExactlyOneToAndNeverCcOrBcc) {
  auto spec = base_spec();
  spec.html = "<p>x</p>";
  const auto message = compose_ok(spec);
  const auto names = header_names(message);
  EXPECT_EQ(std::count(names.begin(), names.end(), "To"), 1);
  for (const auto& name : names) {
    EXPECT_NE(core::to_lower_ascii(name), "cc");
    EXPECT_NE(core::to_lower_ascii(name), "bcc");
  }
  EXPECT_EQ(count(message, "\r\nCc:"), 0U);
  EXPECT_EQ(count(message, "\r\nBcc:"), 0U);
}

TEST(ComposeMessageTest, WritesEachReceiptType) {
  for (const auto type : {ReceiptType::completa, ReceiptType::breve, ReceiptType::sintetica}) {
    auto spec = base_spec();
    spec.receipt = type;
    EXPECT_EQ(header_value(compose_ok(spec), "X-TipoRicevuta"), to_string(type));
  }
}

TEST(ComposeMessageTest, EncodesANonAsciiSubjectWithRfc2047) {
  auto spec = base_spec();
  spec.subject = "Fattura n. 12 — scadenza città";
  const auto message = compose_ok(spec);
  const auto subject = header_value(message, "Subject");
  EXPECT_TRUE(subject.starts_with("Fattura n. 12 =?UTF-8?")) << subject;
  EXPECT_TRUE(subject.ends_with("?=")) << subject;
  expect_wire_format(message);
}

TEST(ComposeMessageTest, EncodesSubjectTextThatLooksLikeAnEncodedWord) {
  auto spec = base_spec();
  spec.subject = "Prova =?utf-8?q?ciao?= città";
  const auto message = compose_ok(spec);
  EXPECT_EQ(count(message, "=?utf-8?q?ciao?="), 0U);
  // "Prova =?utf-8?q?ciao?= citt\xC3\xA0" in one UTF-8 base64 word.
  EXPECT_EQ(header_value(message, "Subject"),
            "=?UTF-8?B?UHJvdmEgPT91dGYtOD9xP2NpYW8/PSBjaXR0w6A=?=");
}

TEST(ComposeMessageTest, FoldsLongSubjectsWithinLineLimits) {
  auto spec = base_spec();
  spec.subject = std::string(1500, 'a') + " città " + std::string(1200, 'b');
  expect_wire_format(compose_ok(spec));
  spec.subject = "=?x?= " + std::string(400, 'z') + "ò";
  expect_wire_format(compose_ok(spec));
}

TEST(ComposeMessageTest, WritesTheDateInUtc) {
  auto spec = base_spec();
  spec.date = 1735689599; // 2024-12-31 23:59:59 UTC
  EXPECT_EQ(header_value(compose_ok(spec), "Date"), "Tue, 31 Dec 2024 23:59:59 +0000");
}

// --- refusals ----------------------------------------------------------------

TEST(ComposeMessageTest, RefusesLineBreaksAndNulInHeaders) {
  const std::vector<std::pair<std::string, std::string MessageSpec::*>> fields = {
      {"subject", &MessageSpec::subject},
      {"From", &MessageSpec::from},
      {"To", &MessageSpec::to},
      {"Message-ID", &MessageSpec::message_id}};
  for (const auto& [label, field] : fields) {
    for (const std::string& bad : std::vector<std::string>{"\r", "\n", std::string(1, '\0'), "\r\nBcc: x@y.it"}) {
      auto spec = base_spec();
      spec.*field += bad;
      const auto error = compose_error(spec);
      EXPECT_EQ(error.kind, core::ErrorKind::input) << label;
      EXPECT_NE(error.message.find("line break (CR or LF) or a NUL"), std::string::npos)
          << error.message;
    }
  }
}

TEST(ComposeMessageTest, RefusesSubjectInjection) {
  auto spec = base_spec();
  spec.subject = "Fattura\r\nBcc: spia@example.it";
  const auto error = compose_error(spec);
  EXPECT_EQ(error.kind, core::ErrorKind::input);
  EXPECT_EQ(error.message, "subject contains a line break (CR or LF) or a NUL "
                           "character: \"Fattura\\r\\nBcc: spia@example.it\"");
}

TEST(ComposeMessageTest, RefusesAddressListsAndInvalidAddresses) {
  for (const std::string bad : {"a@pec.it, b@pec.it", "Mario <a@pec.it>", "senza-chiocciola", ""}) {
    auto spec = base_spec();
    spec.to = bad;
    EXPECT_EQ(compose_error(spec).kind, core::ErrorKind::input) << bad;
    spec = base_spec();
    spec.from = bad;
    EXPECT_EQ(compose_error(spec).kind, core::ErrorKind::input) << bad;
  }
}

TEST(ComposeMessageTest, RefusesMalformedMessageIds) {
  for (const std::string bad : {"<a@b.it>", "senza-dominio", "a@@b", "a b@c.it", "a@", ".a@b"}) {
    auto spec = base_spec();
    spec.message_id = bad;
    const auto error = compose_error(spec);
    EXPECT_EQ(error.kind, core::ErrorKind::input) << bad;
  }
}

TEST(ComposeMessageTest, RefusesInvalidUtf8) {
  auto spec = base_spec();
  spec.text = "citt\xE0";
  EXPECT_EQ(compose_error(spec).message, "text body is not valid UTF-8 (byte 5)");
  spec = base_spec();
  spec.html = "\xFF";
  EXPECT_EQ(compose_error(spec).kind, core::ErrorKind::input);
  spec = base_spec();
  spec.subject = "\xC3";
  EXPECT_EQ(compose_error(spec).kind, core::ErrorKind::input);
}

// --- bodies ------------------------------------------------------------------

TEST(ComposeMessageTest, PlainTextOnlyIsASingleUtf8Part) {
  auto spec = base_spec();
  spec.text = "Gentile cliente,\nla fattura è allegata.";
  const auto message = compose_ok(spec);
  EXPECT_EQ(header_value(message, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(header_value(message, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_TRUE(message.ends_with("\r\n\r\nGentile cliente,\r\nla fattura =C3=A8 allegata.\r\n"))
      << message;
  expect_wire_format(message);
}

TEST(ComposeMessageTest, AsciiTextIsQuotedPrintableToo) {
  const auto message = compose_ok(base_spec());
  EXPECT_EQ(header_value(message, "Content-Transfer-Encoding"), "quoted-printable");
}

TEST(ComposeMessageTest, NormalisesTextLineEndsToCrLf) {
  auto spec = base_spec();
  spec.text = "uno\rdue\r\ntre\nquattro";
  const auto message = compose_ok(spec);
  EXPECT_TRUE(message.ends_with("\r\n\r\nuno\r\ndue\r\ntre\r\nquattro\r\n")) << message;
}

TEST(ComposeMessageTest, BreaksLongTextLines) {
  auto spec = base_spec();
  spec.text = std::string(5000, 'x') + "\n" + std::string(3000, 'y');
  spec.html = "<p>" + std::string(4000, 'z') + "</p>";
  const auto message = compose_ok(spec);
  expect_wire_format(message);
  std::size_t longest = 0;
  std::size_t start = 0;
  for (auto pos = message.find("\r\n"); pos != std::string::npos;
       pos = message.find("\r\n", start)) {
    longest = std::max(longest, pos - start);
    start = pos + 2;
  }
  EXPECT_LE(longest, 78U);
}

TEST(ComposeMessageTest, MostlyNonLatinTextIsBase64OfCrLfText) {
  auto spec = base_spec();
  spec.text = "Здравствуйте\nСчёт прилагается";
  const auto message = compose_ok(spec);
  EXPECT_EQ(header_value(message, "Content-Transfer-Encoding"), "base64");
  const std::string body = message.substr(message.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, detail::encode_base64_lines("Здравствуйте\r\nСчёт прилагается\r\n"));
}

TEST(ComposeMessageTest, HtmlMakesMultipartAlternative) {
  auto spec = base_spec();
  spec.html = "<p>Gentile cliente, la fattura è allegata.</p>";
  const auto message = compose_ok(spec);
  const std::string boundary = detail::boundary_for(k_message_id, 2);
  EXPECT_EQ(header_value(message, "Content-Type"),
            "multipart/alternative;\tboundary=\"" + boundary + "\"");
  const auto plain = message.find("Content-Type: text/plain; charset=utf-8");
  const auto html = message.find("Content-Type: text/html; charset=utf-8");
  ASSERT_NE(plain, std::string::npos);
  ASSERT_NE(html, std::string::npos);
  EXPECT_LT(plain, html);
  EXPECT_EQ(count(message, "--" + boundary + "\r\n"), 2U);
  EXPECT_EQ(count(message, "--" + boundary + "--\r\n"), 1U);
  EXPECT_NE(message.find("<p>Gentile cliente, la fattura =C3=A8 allegata.</p>"),
            std::string::npos);
  expect_wire_format(message);
}

TEST(ComposeMessageTest, BoundariesComeFromTheMessageId) {
  EXPECT_EQ(detail::boundary_for("a@b.it", 1),
            "=_pecbatch_" + core::sha256_hex("a@b.it").substr(0, 24) + "_1");
  EXPECT_NE(detail::boundary_for("a@b.it", 1), detail::boundary_for("a@b.it", 2));
  EXPECT_NE(detail::boundary_for("a@b.it", 1), detail::boundary_for("c@b.it", 1));
}

TEST(ComposeMessageTest, SameSpecGivesSameBytes) {
  auto spec = base_spec();
  spec.html = "<p>ciao</p>";
  spec.subject = "Fattura — città";
  const auto first = compose_ok(spec);
  EXPECT_EQ(compose_ok(spec), first);
  spec.message_id = "altro@pec.example.it";
  const auto other = compose_ok(spec);
  EXPECT_NE(other, first);
  EXPECT_NE(other.find(detail::boundary_for("altro@pec.example.it", 2)), std::string::npos);
}

// --- attachments -------------------------------------------------------------

class ComposeAttachmentTest : public TempDirTest {
protected:
  std::shared_ptr<const EncodedAttachment> attach(const std::string& name,
                                                  const std::string& content) {
    auto got = m_cache.get(write(name, content));
    EXPECT_TRUE(got.ok()) << (got.ok() ? "" : got.error().message);
    return got.ok() ? *got : nullptr;
  }

  AttachmentCache m_cache;
};

// --- content digest ----------------------------------------------------------

// The journal's content hash of a row: every change that changes the bytes
// (but the Date) changes the digest; the Date alone does not.
TEST_F(ComposeAttachmentTest, TheContentDigestFollowsEverythingButTheDate) {
  auto base = base_spec();
  base.html = "<p>Gentile cliente</p>";
  base.attachments = {attach("fattura.pdf", "contenuto")};
  const std::string digest = content_digest(base);
  EXPECT_TRUE(digest.starts_with("spec-sha256:")) << digest;
  EXPECT_EQ(digest.size(), std::string("spec-sha256:").size() + 64);

  auto later = base;
  later.date += 86400;
  ASSERT_NE(compose_ok(later), compose_ok(base));
  EXPECT_EQ(content_digest(later), digest);

  using Change = std::function<void(MessageSpec&)>;
  const std::vector<std::pair<std::string, Change>> changes = {
      {"from", [](MessageSpec& s) { s.from = "altro@pec.example.it"; }},
      {"to", [](MessageSpec& s) { s.to = "altro@pec.example.it"; }},
      {"subject", [](MessageSpec& s) { s.subject += "."; }},
      {"text", [](MessageSpec& s) { s.text += "Saluti.\n"; }},
      {"html", [](MessageSpec& s) { s.html = "<p>Gentile cliente.</p>"; }},
      {"no html", [](MessageSpec& s) { s.html.reset(); }},
      {"empty html", [](MessageSpec& s) { s.html = ""; }},
      {"receipt", [](MessageSpec& s) { s.receipt = ReceiptType::breve; }},
      {"message id", [](MessageSpec& s) { s.message_id = "altro." + s.message_id; }},
      {"no attachment", [](MessageSpec& s) { s.attachments.clear(); }},
      {"attachment content",
       [this](MessageSpec& s) { s.attachments = {attach("v2/fattura.pdf", "contenuti")}; }},
      {"attachment name",
       [this](MessageSpec& s) { s.attachments = {attach("fattura2.pdf", "contenuto")}; }},
      {"attachment type",
       [this](MessageSpec& s) { s.attachments = {attach("fattura.txt", "contenuto")}; }},
      {"second attachment",
       [this](MessageSpec& s) { s.attachments.push_back(attach("dati.xml", "<a/>")); }},
      // The same characters split differently between two fields.
      {"subject/text boundary",
       [](MessageSpec& s) {
         s.subject += s.text.substr(0, 1);
         s.text.erase(0, 1);
       }},
  };
  std::set<std::string> seen = {digest};
  const std::string bytes = compose_ok(base);
  for (const auto& [name, change] : changes) {
    auto spec = base;
    change(spec);
    ASSERT_NE(compose_ok(spec), bytes) << name << " does not change the message";
    EXPECT_TRUE(seen.insert(content_digest(spec)).second)
        << name << " gives a digest already seen";
  }
}

TEST_F(ComposeAttachmentTest, AttachmentsMakeMultipartMixed) {
  auto spec = base_spec();
  spec.html = "<p>ciao</p>";
  spec.attachments = {attach("fattura.pdf", random_bytes(10000, 1)),
                      attach("fattura città.pdf", random_bytes(500, 2)),
                      attach("dati.xml", "<fattura/>"),
                      attach("LEGGIMI", "x")};
  const auto message = compose_ok(spec);
  const std::string mixed = detail::boundary_for(k_message_id, 1);
  EXPECT_EQ(header_value(message, "Content-Type"),
            "multipart/mixed; boundary=\"" + mixed + "\"");
  EXPECT_EQ(count(message, "--" + mixed + "\r\n"), 5U);
  EXPECT_EQ(count(message, "Content-Disposition: attachment;"), 4U);
  EXPECT_NE(message.find("Content-Type: application/pdf; name=fattura.pdf\r\n"
                         "Content-Disposition: attachment; filename=fattura.pdf\r\n"
                         "Content-Transfer-Encoding: base64\r\n\r\n"),
            std::string::npos);
  EXPECT_NE(message.find("Content-Type: application/pdf; "
                         "name*=UTF-8''fattura%20citt%C3%A0.pdf\r\n"
                         "Content-Disposition: attachment; "
                         "filename*=UTF-8''fattura%20citt%C3%A0.pdf\r\n"),
            std::string::npos);
  EXPECT_NE(message.find("Content-Type: application/xml; name=dati.xml\r\n"), std::string::npos);
  EXPECT_NE(message.find("Content-Type: application/octet-stream; name=LEGGIMI\r\n"),
            std::string::npos);
  for (const auto& attachment : spec.attachments) {
    EXPECT_NE(message.find("\r\n\r\n" + attachment->base64 + "\r\n--" + mixed),
              std::string::npos);
  }
  // The body alternative comes first.
  EXPECT_LT(message.find("multipart/alternative"), message.find("fattura.pdf"));
  expect_wire_format(message);
}

TEST_F(ComposeAttachmentTest, QuotesAsciiNamesThatNeedIt) {
  auto spec = base_spec();
  spec.attachments = {attach("fattura n. 12 (copia).pdf", "x")};
  const auto message = compose_ok(spec);
  EXPECT_NE(message.find("Content-Disposition: attachment; "
                         "filename=\"fattura n. 12 (copia).pdf\"\r\n"),
            std::string::npos)
      << message;
}

TEST_F(ComposeAttachmentTest, LongNamesAreFoldedWithinLimits) {
  auto spec = base_spec();
  spec.attachments = {attach(std::string(200, 'a') + ".pdf", "x"),
                      attach(std::string(60, 'b') + "àèìòù" + std::string(60, 'c') + ".pdf", "y")};
  expect_wire_format(compose_ok(spec));
}

TEST_F(ComposeAttachmentTest, SplicedBytesEqualGMimeEncoding) {
  auto spec = base_spec();
  spec.html = "<p>città</p>";
  for (const std::size_t size : {0, 1, 2, 3, 56, 57, 58, 114, 1000, 100003}) {
    spec.attachments.push_back(
        attach("f" + std::to_string(size) + ".bin", random_bytes(size, static_cast<unsigned>(size))));
  }
  const auto spliced = detail::compose_message(spec, detail::AttachmentMode::splice);
  const auto encoded = detail::compose_message(spec, detail::AttachmentMode::gmime_encode);
  ASSERT_TRUE(spliced.ok()) << spliced.error().message;
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;
  EXPECT_EQ(*spliced, *encoded);
  expect_wire_format(*spliced);
}

TEST_F(ComposeAttachmentTest, PlaceholderLookalikesAreHarmless) {
  auto spec = base_spec();
  spec.subject = "=_pecbatch_splice_0_=";
  spec.text = "\r\n\r\n=_pecbatch_splice_0_=\r\n";
  spec.attachments = {attach("=_pecbatch_splice_0_=", "contenuto")};
  const auto spliced = detail::compose_message(spec, detail::AttachmentMode::splice);
  const auto encoded = detail::compose_message(spec, detail::AttachmentMode::gmime_encode);
  ASSERT_TRUE(spliced.ok()) << spliced.error().message;
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;
  EXPECT_EQ(*spliced, *encoded);
}

TEST_F(ComposeAttachmentTest, SharedAttachmentIsNotReencodedPerMessage) {
  const auto shared = attach("fattura.pdf", random_bytes(300000, 7));
  for (int i = 0; i < 50; ++i) {
    auto spec = base_spec();
    spec.to = "cliente" + std::to_string(i) + "@pec.example.it";
    spec.message_id = make_message_id("camp", spec.to, "pec.example.it");
    spec.attachments = {shared};
    const auto message = compose_ok(spec);
    ASSERT_NE(message.find(shared->base64), std::string::npos);
  }
  EXPECT_EQ(m_cache.encoded_count(), 1U);
}

TEST_F(ComposeAttachmentTest, ComposesFromSeveralThreadsAtOnce) {
  const auto shared = attach("fattura città.pdf", random_bytes(50000, 9));
  auto spec = base_spec();
  spec.html = "<p>città</p>";
  spec.attachments = {shared};
  const std::string expected = compose_ok(spec);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(6, 0);
  for (std::size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&spec, &expected, &mismatches, t] {
      for (int n = 0; n < 30; ++n) {
        const auto composed = compose_message(spec);
        if (!composed.ok() || *composed != expected) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(mismatches, std::vector<int>(6, 0));
}

TEST_F(ComposeAttachmentTest, RefusesBadFileNames) {
  for (const std::string& bad : std::vector<std::string>{"a\r\nb.pdf", "a\nb.pdf", std::string("a\0b", 3), "a\tb.pdf", ""}) {
    auto attachment = std::make_shared<EncodedAttachment>(*attach("ok.pdf", "x"));
    attachment->filename = bad;
    auto spec = base_spec();
    spec.attachments = {attachment};
    EXPECT_EQ(compose_error(spec).kind, core::ErrorKind::input) << core::quote(bad);
  }
}

TEST_F(ComposeAttachmentTest, RefusesAnEncodedBodyThatDoesNotMatchTheSize) {
  auto attachment = std::make_shared<EncodedAttachment>(*attach("ok.pdf", "abc"));
  attachment->base64 = "not base64";
  auto spec = base_spec();
  spec.attachments = {attachment};
  EXPECT_EQ(compose_error(spec).kind, core::ErrorKind::internal);
  spec.attachments = {nullptr};
  EXPECT_EQ(compose_error(spec).kind, core::ErrorKind::internal);
}

// --- Message-ID and receipt types -------------------------------------------

TEST(MessageIdTest, HasTheDocumentedForm) {
  const auto id = make_message_id("camp2025", "Mario.Rossi@PEC.Example.it", "pec.example.it");
  const std::string prefix = "pecbatch.camp2025.";
  const std::string suffix = ".1@pec.example.it";
  ASSERT_EQ(id.size(), prefix.size() + 20 + suffix.size()) << id;
  EXPECT_TRUE(id.starts_with(prefix)) << id;
  EXPECT_TRUE(id.ends_with(suffix)) << id;
  const std::string row_key = id.substr(prefix.size(), 20);
  EXPECT_EQ(row_key.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  EXPECT_EQ(id, "pecbatch.camp2025." +
                    core::sha256_hex("mario.rossi@pec.example.it").substr(0, 20) +
                    ".1@pec.example.it");
}

TEST(MessageIdTest, IsStableAndCaseInsensitiveInTheRecipient) {
  EXPECT_EQ(make_message_id("c", "a@pec.it", "pec.it"), make_message_id("c", "a@pec.it", "pec.it"));
  EXPECT_EQ(make_message_id("c", "A@PEC.IT", "pec.it"), make_message_id("c", "a@pec.it", "pec.it"));
  EXPECT_NE(make_message_id("c", "a@pec.it", "pec.it"), make_message_id("c", "b@pec.it", "pec.it"));
  EXPECT_NE(make_message_id("c", "a@pec.it", "pec.it"), make_message_id("d", "a@pec.it", "pec.it"));
}

TEST(MessageIdTest, GenerationIsTheFourthField) {
  const auto id = make_message_id("c", "a@pec.it", "pec.it", 3);
  EXPECT_TRUE(id.ends_with(".3@pec.it")) << id;
  EXPECT_NE(id, make_message_id("c", "a@pec.it", "pec.it", 2));
}

TEST(MessageIdTest, KeepsToPlainCharacters) {
  const auto id = make_message_id("fatture marzo/2025.v1", "a@pec.it", "pec.example.it");
  EXPECT_TRUE(id.starts_with("pecbatch.fatture-marzo-2025-v1.")) << id;
  auto spec = base_spec();
  spec.message_id = make_message_id("ç <x>", "a@pec.it", "pec example.it");
  EXPECT_TRUE(compose_message(spec).ok()) << spec.message_id;
}

TEST(ReceiptTypeTest, ParsesAndPrints) {
  EXPECT_EQ(parse_receipt_type("completa"), ReceiptType::completa);
  EXPECT_EQ(parse_receipt_type("BREVE"), ReceiptType::breve);
  EXPECT_EQ(parse_receipt_type(" sintetica "), ReceiptType::sintetica);
  EXPECT_EQ(parse_receipt_type("full"), std::nullopt);
  EXPECT_EQ(parse_receipt_type(""), std::nullopt);
  for (const auto type : {ReceiptType::completa, ReceiptType::breve, ReceiptType::sintetica}) {
    EXPECT_EQ(parse_receipt_type(to_string(type)), type);
  }
  EXPECT_STREQ(to_string(ReceiptType::breve), "breve");
}

} // namespace
} // namespace pecbatch::compose
