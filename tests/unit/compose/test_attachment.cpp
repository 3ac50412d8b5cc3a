#include <pecbatch/compose/message.hpp>

#include "compose_detail.hpp"
#include "support/temp_dir.hpp"

#include <pecbatch/core/hash.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace pecbatch::compose {
namespace {

using detail::content_type_for_filename;
using detail::encode_base64_lines;

TEST(Base64LinesTest, EncodesRfc4648Vectors) {
  EXPECT_EQ(encode_base64_lines(""), "");
  EXPECT_EQ(encode_base64_lines("f"), "Zg==\r\n");
  EXPECT_EQ(encode_base64_lines("fo"), "Zm8=\r\n");
  EXPECT_EQ(encode_base64_lines("foo"), "Zm9v\r\n");
  EXPECT_EQ(encode_base64_lines("foob"), "Zm9vYg==\r\n");
  EXPECT_EQ(encode_base64_lines("fooba"), "Zm9vYmE=\r\n");
  EXPECT_EQ(encode_base64_lines("foobar"), "Zm9vYmFy\r\n");
  EXPECT_EQ(encode_base64_lines(std::string("\xFF\xFE\x00", 3)), "//4A\r\n");
}

TEST(Base64LinesTest, Writes76ColumnCrLfLines) {
  const std::string data(57 * 2 + 1, 'x');
  const std::string encoded = encode_base64_lines(data);
  const std::string line = encode_base64_lines(std::string(57, 'x'));
  ASSERT_EQ(line.size(), 78U);
  EXPECT_EQ(encoded, line + line + "eA==\r\n");
  for (const std::size_t size : {0, 1, 56, 57, 58, 1000, 65536}) {
    EXPECT_EQ(encode_base64_lines(std::string(size, 'q')).size(),
              detail::base64_lines_size(size))
        << size;
  }
}

TEST(ContentTypeTest, ChoosesByLastExtensionCaseInsensitively) {
  EXPECT_EQ(content_type_for_filename("fattura.pdf"), "application/pdf");
  EXPECT_EQ(content_type_for_filename("FATTURA.PDF"), "application/pdf");
  EXPECT_EQ(content_type_for_filename("IT01234567890_00001.xml"), "application/xml");
  EXPECT_EQ(content_type_for_filename("IT01234567890_00001.xml.p7m"), "application/pkcs7-mime");
  EXPECT_EQ(content_type_for_filename("firma.p7s"), "application/pkcs7-signature");
  EXPECT_EQ(content_type_for_filename("allegati.zip"), "application/zip");
  EXPECT_EQ(content_type_for_filename("foto.jpg"), "image/jpeg");
  EXPECT_EQ(content_type_for_filename("foto.JPEG"), "image/jpeg");
  EXPECT_EQ(content_type_for_filename("logo.png"), "image/png");
  EXPECT_EQ(content_type_for_filename("note.txt"), "text/plain");
  EXPECT_EQ(content_type_for_filename("elenco.csv"), "text/csv");
  EXPECT_EQ(content_type_for_filename("conti.xlsx"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_EQ(content_type_for_filename("lettera.docx"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  EXPECT_EQ(content_type_for_filename("lettera.odt"), "application/vnd.oasis.opendocument.text");
  EXPECT_EQ(content_type_for_filename("foglio.ods"),
            "application/vnd.oasis.opendocument.spreadsheet");
  EXPECT_EQ(content_type_for_filename("archivio.tar.xyz"), "application/octet-stream");
  EXPECT_EQ(content_type_for_filename("LEGGIMI"), "application/octet-stream");
  EXPECT_EQ(content_type_for_filename("fattura."), "application/octet-stream");
}

class AttachmentCacheTest : public test::TempDirTest {};

TEST_F(AttachmentCacheTest, ReadsAndEncodesAFile) {
  constexpr char raw[] = "%PDF-1.4\n\x00\x01\x02 fattura";
  const std::string content(raw, sizeof raw - 1);
  const auto path = write("fattura città.pdf", content);
  AttachmentCache cache;
  const auto got = cache.get(path);
  ASSERT_TRUE(got.ok()) << got.error().message;
  const EncodedAttachment& attachment = **got;
  EXPECT_EQ(attachment.filename, "fattura città.pdf");
  EXPECT_EQ(attachment.content_type, "application/pdf");
  EXPECT_EQ(attachment.size, content.size());
  EXPECT_EQ(attachment.sha256, core::sha256_hex(content));
  EXPECT_EQ(attachment.base64, encode_base64_lines(content));
  EXPECT_EQ(attachment.path, std::filesystem::canonical(path));
  EXPECT_EQ(cache.encoded_count(), 1U);
}

TEST_F(AttachmentCacheTest, EncodesEachFileOnce) {
  const auto a = write("a.pdf", "aaa");
  write("sub/b.xml", "<b/>");
  AttachmentCache cache;
  const auto first = cache.get(a);
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 10; ++i) {
    const auto again = cache.get(a);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->get(), first->get());
  }
  // The same file spelled differently.
  const auto other_spelling = cache.get(dir() / "sub" / ".." / "a.pdf");
  ASSERT_TRUE(other_spelling.ok());
  EXPECT_EQ(other_spelling->get(), first->get());
  EXPECT_EQ(cache.encoded_count(), 1U);

  const auto b = cache.get(dir() / "sub" / "b.xml");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->content_type, "application/xml");
  EXPECT_EQ(cache.encoded_count(), 2U);
}

TEST_F(AttachmentCacheTest, RelativePathsResolveAgainstTheWorkingDirectory) {
  write("rel.txt", "x");
  const auto old = std::filesystem::current_path();
  std::filesystem::current_path(dir());
  AttachmentCache cache;
  const auto relative = cache.get("rel.txt");
  const auto absolute = cache.get(dir() / "rel.txt");
  std::filesystem::current_path(old);
  ASSERT_TRUE(relative.ok()) << relative.error().message;
  ASSERT_TRUE(absolute.ok());
  EXPECT_EQ(relative->get(), absolute->get());
  EXPECT_EQ(cache.encoded_count(), 1U);
}

TEST_F(AttachmentCacheTest, MissingFileIsNoInput) {
  AttachmentCache cache;
  for (const auto& path : {dir() / "manca.pdf", dir() / "manca" / "x.pdf", dir()}) {
    const auto got = cache.get(path);
    ASSERT_FALSE(got.ok()) << path;
    EXPECT_EQ(got.error().kind, core::ErrorKind::no_input) << got.error().message;
  }
  EXPECT_EQ(cache.encoded_count(), 0U);
}

TEST_F(AttachmentCacheTest, EmptyFileHasEmptyBody) {
  AttachmentCache cache;
  const auto got = cache.get(write("vuoto.txt", ""));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)->size, 0U);
  EXPECT_EQ((*got)->base64, "");
}

TEST_F(AttachmentCacheTest, ConcurrentGetsEncodeOnce) {
  const auto path = write("condiviso.pdf", std::string(200000, 'z'));
  AttachmentCache cache;
  std::vector<const EncodedAttachment*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&cache, &path, &seen, i] {
      for (int n = 0; n < 20; ++n) {
        const auto got = cache.get(path);
        if (got.ok()) {
          seen[i] = got->get();
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(cache.encoded_count(), 1U);
  for (const auto* attachment : seen) {
    EXPECT_EQ(attachment, seen[0]);
  }
}

} // namespace
} // namespace pecbatch::compose
